import * as z from 'zod';
import { callerTenantId } from '../auth/caller.js';
import { defineEndpoint } from '../http/endpoint.js';

/**
 * Two endpoints that do nothing but pass the pipeline: integrators check that the service answers and
 * what their credential is, and `npm run bench` measures the pipeline's own cost with them (no handler
 * work, no query: a warm key-authenticated `/v1/whoami` makes no Postgres round trip and one Redis one).
 */
export const pingEndpoint = defineEndpoint({
  method: 'GET',
  path: '/v1/ping',
  summary: 'Answers, and does nothing else (no credential, no dependency)',
  tags: ['Service'],
  auth: 'none',
  response: {
    status: 200,
    description: 'Always `{"ok": true}`',
    schema: () => z.object({ ok: z.literal(true) }),
  },
  handler: async () => ({ ok: true as const }),
});

export const whoamiEndpoint = defineEndpoint({
  method: 'GET',
  path: '/v1/whoami',
  summary: 'The verified caller behind the credential sent (any API key, access token or admin key)',
  tags: ['Service'],
  auth: { admin: true, apiKey: { scopes: [] }, person: {} },
  response: {
    status: 200,
    description: 'Who the credential is; the rate-limit headers show its quota',
    schema: () =>
      z.object({
        kind: z.enum(['admin_key', 'api_key', 'person']),
        tenant_id: z.string().nullable(),
        key_id: z.string().nullable(),
        user_id: z.string().nullable(),
      }),
  },
  handler: async (ctx) => {
    const caller = ctx.caller;
    return {
      kind: caller.kind,
      tenant_id: callerTenantId(caller),
      key_id: caller.kind === 'api_key' ? caller.keyId : null,
      user_id: caller.kind === 'person' ? caller.userId : null,
    };
  },
});

export const pingEndpoints = [pingEndpoint, whoamiEndpoint];
