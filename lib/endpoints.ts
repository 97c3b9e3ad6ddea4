import * as meta from './api/meta.js';
import * as auth from './api/v1/auth.js';
import * as core from './api/v1/core.js';
import type { Endpoint } from './http/endpoint.js';

/**
 * The function manifest: every Vercel function (a file under api/; at most 12 on Hobby), the paths it
 * serves and its endpoint families, which lib/api/ lists under the function's name (lib/api/v1/core.ts
 * for api/v1/core.js). A new family is added there: `core` serves every /v1 path that no more specific
 * function claims (vercel.json's last /v1 rewrite), so a family under /v1 needs no rewrite, no api/
 * file and no OpenAPI wiring of its own. tests/http/functions.test.ts checks that each file exists and
 * mounts exactly its families, and that every declared path routes to it through vercel.json (Vercel's
 * own route compiler); `npm run check:vercel` checks the same on a real `vercel build`.
 *
 * Functions are split by workload, not by family (fewer functions, fewer cold starts): `meta` is
 * public and cheap, `auth` runs bcrypt for logins, `core` serves the credential-checked API. A
 * function's bundle starts from its own module of lib/api/, never from this manifest, so it loads only
 * its families (scripts/build-functions.ts, docs/decisions/0034).
 */
export const functionManifest = {
  'api/meta.js': {
    /** Path prefixes this function serves (vercel.json rewrites them to it). */
    prefixes: ['/api/health', '/api/openapi.json', '/.well-known/jwks.json'],
    families: meta.families,
  },
  'api/v1/auth.js': {
    prefixes: ['/v1/auth'],
    families: auth.families,
  },
  'api/v1/core.js': {
    prefixes: ['/v1'],
    families: core.families,
  },
} as const satisfies Record<string, FunctionSpec>;

export interface FunctionSpec {
  readonly prefixes: readonly string[];
  readonly families: readonly (readonly Endpoint[])[];
}

export type FunctionFile = keyof typeof functionManifest;

/** The endpoints one function mounts. */
export function endpointsOf(file: FunctionFile): Endpoint[] {
  return functionManifest[file].families.flat();
}

/** Every endpoint of every family: the OpenAPI document and the route-coverage checks read this. */
export function allEndpoints(): Endpoint[] {
  return (Object.keys(functionManifest) as FunctionFile[]).flatMap(endpointsOf);
}
