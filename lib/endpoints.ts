import type { Endpoint } from './http/endpoint.js';

/**
 * The function manifest: every Vercel function (a file under api/; at most 12 on Hobby), the paths it
 * serves and the endpoint families it mounts, listed in lib/api/ under the same name. A new family is
 * added there: `core` (lib/api/v1/core.ts) serves every /v1 path that no more specific function claims
 * (vercel.json's last /v1 rewrite), so a family under /v1 needs no rewrite, no api/ file and no
 * OpenAPI wiring of its own. tests/http/functions.test.ts
 * checks that each file exists and mounts exactly its families, and that every declared path routes
 * to it through vercel.json (Vercel's own route compiler); `npm run check:vercel` checks the same on
 * a real `vercel build`.
 *
 * Functions are split by workload, not by family (fewer functions, fewer cold starts): `meta` is
 * public and cheap, `auth` runs bcrypt for logins, `core` serves the credential-checked API.
 *
 * Families are loaded with `import()`, so each function's bundle reads at import only the families it
 * serves (docs/decisions/0034): `auth` never compiles the tenants' or the invoices' code, and `meta`
 * loads every family only for the request that asks for the OpenAPI document.
 */
export const functionManifest = {
  'api/meta.js': {
    /** Path prefixes this function serves (vercel.json rewrites them to it). */
    prefixes: ['/api/health', '/api/openapi.json', '/.well-known/jwks.json'],
    /** The module listing its families (lib/api/, named like the file under api/). */
    families: async () => (await import('./api/meta.js')).families,
  },
  'api/v1/auth.js': {
    prefixes: ['/v1/auth'],
    families: async () => (await import('./api/v1/auth.js')).families,
  },
  'api/v1/core.js': {
    prefixes: ['/v1'],
    families: async () => (await import('./api/v1/core.js')).families,
  },
} as const satisfies Record<string, FunctionSpec>;

export interface FunctionSpec {
  readonly prefixes: readonly string[];
  /** The function's endpoint families, imported when the function is mounted. */
  readonly families: () => Promise<readonly (readonly Endpoint[])[]>;
}

export type FunctionFile = keyof typeof functionManifest;

/** The endpoints one function mounts. */
export async function endpointsOf(file: FunctionFile): Promise<Endpoint[]> {
  return (await functionManifest[file].families()).flat();
}

/** Every endpoint of every family: the OpenAPI document and the route-coverage checks read this. */
export async function allEndpoints(): Promise<Endpoint[]> {
  const files = Object.keys(functionManifest) as FunctionFile[];
  return (await Promise.all(files.map(endpointsOf))).flat();
}
