/**
 * `npm run build:portal`: bundles the developer portal (portal/) into public/ — public/app/portal.js
 * and portal.css, and the same HTML entry page at public/portal/index.html (the portal) and
 * public/reset-password/index.html (the page password-reset mails link to). esbuild bundles Preact
 * and the API's vocabulary (lib/vocabulary.ts) into one ES module; nothing is inlined into the HTML,
 * so the pages keep to vercel.json's CSP (script-src 'self'; style-src 'self'). The output is not
 * committed: Vercel's build step, `npm run dev` and the browser tests run this first. Each file is
 * written to a temporary name and renamed, so a server reading public/ meanwhile never sees half a file.
 */
import { copyFileSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));

/** The pages that load the portal, relative to public/. */
export const PORTAL_PAGES = ['portal/index.html', 'reset-password/index.html'] as const;

function writeAtomically(file: string, contents: Uint8Array | string): void {
  mkdirSync(dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, contents);
  renameSync(temporary, file);
}

function copyAtomically(from: string, to: string): void {
  mkdirSync(dirname(to), { recursive: true });
  const temporary = `${to}.${process.pid}.tmp`;
  copyFileSync(from, temporary);
  renameSync(temporary, to);
}

export async function buildPortal(): Promise<void> {
  const result = await build({
    entryPoints: [join(root, 'portal/src/main.tsx')],
    bundle: true,
    format: 'esm',
    target: 'es2020',
    minify: true,
    sourcemap: false,
    jsx: 'automatic',
    jsxImportSource: 'preact',
    legalComments: 'none',
    write: false,
    outfile: join(root, 'public/app/portal.js'),
    logLevel: 'warning',
  });
  for (const file of result.outputFiles) writeAtomically(file.path, file.contents);
  copyAtomically(join(root, 'portal/styles.css'), join(root, 'public/app/portal.css'));
  for (const page of PORTAL_PAGES)
    copyAtomically(join(root, 'portal/index.html'), join(root, 'public', page));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await buildPortal();
  console.log(
    `build:portal: public/app/portal.js, public/app/portal.css, ${PORTAL_PAGES.map((p) => `public/${p}`).join(', ')}`,
  );
}
