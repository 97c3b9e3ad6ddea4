import { sql } from 'kysely';
import { z } from 'zod';
import { defineEndpoint, Reply } from '../http/endpoint.js';
import { buildOpenApiDocument } from '../http/openapi.js';

const healthSchema = z
  .object({
    status: z.enum(['ok', 'degraded']),
    db: z.enum(['ok', 'down']),
    ratelimit: z.enum(['ok', 'down']),
  })
  .meta({ id: 'Health' });

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
      sql`select 1`.execute(ctx.db).then(
        () => 'ok' as const,
        () => 'down' as const,
      ),
      ctx.app.limiter.ping().then(
        (ok) => (ok ? ('ok' as const) : ('down' as const)),
        () => 'down' as const,
      ),
    ]);
    const healthy = db === 'ok' && ratelimit === 'ok';
    return new Reply(healthy ? 200 : 503, { status: healthy ? 'ok' : 'degraded', db, ratelimit });
  },
});

export const openApiEndpoint = defineEndpoint({
  method: 'GET',
  path: '/api/openapi.json',
  summary: 'This API as an OpenAPI 3.1 document',
  tags: ['Service'],
  auth: 'none',
  response: { status: 200, description: 'The OpenAPI document' },
  handler: async (ctx) => {
    // Imported here: the registry includes this very endpoint.
    const { allEndpoints } = await import('../endpoints.js');
    // The deployment's own URL (APP_URL, derived per environment on Vercel): SDKs call where they read.
    return buildOpenApiDocument(allEndpoints(), ctx.app.config.appUrl);
  },
});

export const jwksEndpoint = defineEndpoint({
  method: 'GET',
  path: '/.well-known/jwks.json',
  summary: 'The public keys that verify access tokens',
  tags: ['Authentication'],
  auth: 'none',
  response: {
    status: 200,
    description: 'A JWK set',
    schema: z.object({ keys: z.array(z.record(z.string(), z.unknown())) }),
  },
  // Public, and cacheable for a few minutes: a new key is published well before it signs.
  handler: async (ctx) =>
    new Reply(200, ctx.app.tokens.keys.jwks, { 'cache-control': 'public, max-age=300' }),
});

export const metaEndpoints = [healthEndpoint, openApiEndpoint, jwksEndpoint];
