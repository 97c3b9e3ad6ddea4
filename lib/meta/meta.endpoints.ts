import { sql } from 'kysely';
import * as z from 'zod';
import { defineEndpoint, type Endpoint, Reply } from '../http/endpoint.js';
import { lazy } from '../lazy.js';

/**
 * A probe must answer even when a dependency hangs: a check that has not answered by then counts as
 * `down`. The dependencies' own timeouts normally end a check sooner; this keeps the promise of API.md
 * (a frozen dependency reported within 2 seconds) even when they are configured longer.
 */
const HEALTH_CHECK_DEADLINE_MS = 1500;

function checkWithin(check: () => Promise<boolean>): Promise<'ok' | 'down'> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), HEALTH_CHECK_DEADLINE_MS);
  });
  return Promise.race([check().catch(() => false), deadline])
    .then((ok) => (ok ? ('ok' as const) : ('down' as const)))
    .finally(() => clearTimeout(timer));
}

const healthSchema = lazy(() =>
  z
    .object({
      status: z.enum(['ok', 'degraded']),
      db: z.enum(['ok', 'down']),
      ratelimit: z.enum(['ok', 'down']),
    })
    .meta({ id: 'Health' }),
);

export const healthEndpoint = defineEndpoint({
  method: 'GET',
  path: '/api/health',
  summary: 'Service health: database and rate limiter',
  tags: ['Service'],
  auth: 'none',
  response: {
    status: 200,
    description: 'Both dependencies answer (503 with the same body when one does not)',
    schema: healthSchema,
  },
  errors: [503],
  handler: async (ctx) => {
    const [db, ratelimit] = await Promise.all([
      checkWithin(() => sql`select 1`.execute(ctx.db).then(() => true)),
      checkWithin(() => ctx.app.limiter.ping()),
    ]);
    const healthy = db === 'ok' && ratelimit === 'ok';
    return new Reply(healthy ? 200 : 503, { status: healthy ? 'ok' : 'degraded', db, ratelimit });
  },
});

/** The OpenAPI document of every endpoint `registry` lists (handed in: the registry lists this one too). */
export function openApiEndpoint(registry: () => Promise<readonly Endpoint[]>) {
  return defineEndpoint({
    method: 'GET',
    path: '/api/openapi.json',
    summary: 'This API as an OpenAPI 3.1 document',
    tags: ['Service'],
    auth: 'none',
    response: { status: 200, description: 'The OpenAPI document' },
    // The deployment's own URL (APP_URL, derived per environment on Vercel): SDKs call where they read.
    // zod-openapi, and every family the document lists, are loaded on the first request for the
    // document, not at the function's cold start (the registry imports them: lib/api/meta.ts).
    handler: async (ctx) => {
      const { buildOpenApiDocument } = await import('../http/openapi.js');
      return buildOpenApiDocument(await registry(), ctx.app.config.appUrl);
    },
  });
}

export const jwksEndpoint = defineEndpoint({
  method: 'GET',
  path: '/.well-known/jwks.json',
  summary: 'The public keys that verify access tokens',
  tags: ['Authentication'],
  auth: 'none',
  response: {
    status: 200,
    description: 'A JWK set',
    schema: () => z.object({ keys: z.array(z.record(z.string(), z.unknown())) }),
  },
  // Public, and cacheable for a few minutes: a new key is published well before it signs.
  handler: async (ctx) =>
    new Reply(200, (await ctx.app.tokens.keys()).jwks, { 'cache-control': 'public, max-age=300' }),
});

/** Health, the OpenAPI document of `registry`, and the JWKS. */
export function metaEndpoints(registry: () => Promise<readonly Endpoint[]>): Endpoint[] {
  return [healthEndpoint, openApiEndpoint(registry), jwksEndpoint];
}
