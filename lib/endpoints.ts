import { auditEndpoints } from './audit/audit.endpoints.js';
import type { Endpoint } from './http/endpoint.js';
import { authEndpoints } from './identity/auth.endpoints.js';
import { apiKeyEndpoints, tenantKeyEndpoints } from './keys/api-keys.endpoints.js';
import { metaEndpoints } from './meta/meta.endpoints.js';
import { pingEndpoints } from './meta/ping.endpoints.js';
import { adminResourceEndpoints } from './resources/admin-resources.endpoints.js';
import { contractEndpoints } from './resources/contracts.endpoints.js';
import { embedEndpoints } from './resources/embed.endpoints.js';
import { firsOAuthEndpoints } from './resources/firs-oauth.endpoints.js';
import { invoiceEndpoints } from './resources/invoices.endpoints.js';
import { settingsEndpoints } from './resources/settings.endpoints.js';
import { webhookEndpoints } from './resources/webhooks.endpoints.js';
import { teamEndpoints } from './tenants/team.endpoints.js';
import { tenantEndpoints } from './tenants/tenants.endpoints.js';

/**
 * The function manifest: every Vercel function (a file under api/; at most 12 on Hobby) and the
 * endpoint families it mounts. This is the one place a new family is added: `core` serves every
 * /v1 path that no more specific function claims (vercel.json's last /v1 rewrite), so a family under
 * /v1 needs no rewrite, no api/ file and no OpenAPI wiring of its own. tests/http/functions.test.ts
 * checks that each file exists and mounts exactly its families, and that every declared path routes
 * to it through vercel.json (Vercel's own route compiler); `npm run check:vercel` checks the same on
 * a real `vercel build`.
 *
 * Functions are split by workload, not by family (fewer functions, fewer cold starts): `meta` is
 * public and cheap, `auth` runs bcrypt for logins, `core` serves the credential-checked API.
 */
export const functionManifest = {
  'api/meta.js': {
    /** Path prefixes this function serves (vercel.json rewrites them to it). */
    prefixes: ['/api/health', '/api/openapi.json', '/.well-known/jwks.json'],
    families: () => [metaEndpoints(allEndpoints)],
  },
  'api/v1/auth.js': {
    prefixes: ['/v1/auth'],
    families: () => [authEndpoints, firsOAuthEndpoints],
  },
  'api/v1/core.js': {
    prefixes: ['/v1'],
    families: () => [
      tenantEndpoints,
      teamEndpoints,
      auditEndpoints,
      tenantKeyEndpoints,
      apiKeyEndpoints,
      settingsEndpoints,
      invoiceEndpoints,
      contractEndpoints,
      webhookEndpoints,
      embedEndpoints,
      adminResourceEndpoints,
      pingEndpoints,
    ],
  },
} as const satisfies Record<string, FunctionSpec>;

export interface FunctionSpec {
  readonly prefixes: readonly string[];
  readonly families: () => readonly (readonly Endpoint[])[];
}

export type FunctionFile = keyof typeof functionManifest;

/** The endpoints one function mounts. */
export function endpointsOf(file: FunctionFile): Endpoint[] {
  return functionManifest[file].families().flat();
}

/** Every endpoint of every family: the OpenAPI document and the route-coverage checks read this. */
export function allEndpoints(): Endpoint[] {
  return (Object.keys(functionManifest) as FunctionFile[]).flatMap(endpointsOf);
}
