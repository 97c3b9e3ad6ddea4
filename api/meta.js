// The deployed function: its bundle, built from the sources by `npm run build:functions` (the build
// command runs it before Vercel packs this file). What it serves is in lib/endpoints.ts.
export * from '../dist/functions/meta.mjs';
