import * as z from 'zod';
import { recordAudit } from '../audit/audit.repository.js';
import { defineEndpoint } from '../http/endpoint.js';
import { signEmbedToken } from './embed-token.js';

export const createEmbedSessionEndpoint = defineEndpoint({
  method: 'POST',
  path: '/v1/embed/sessions',
  summary: 'A short-lived token for the embeddable wizard (embed audience only)',
  tags: ['Embed'],
  // Like `webhooks`, `embed` is a partner-tier scope: public keys never carry it.
  auth: { apiKey: { scopes: ['embed'] } },
  tenant: 'caller',
  body: () => z.strictObject({}),
  response: {
    status: 201,
    description: 'The embed token and its expiry',
    schema: () => z.object({ token: z.string(), expires_at: z.string() }),
  },
  handler: async (ctx) => {
    const at = ctx.now();
    const { token, expiresAt } = await signEmbedToken(
      ctx.app.tokens,
      { tenantId: ctx.tenantId, keyId: ctx.caller.keyId },
      at,
    );
    await recordAudit(
      ctx.db,
      ctx.actor,
      {
        tenantId: ctx.tenantId,
        action: 'embed.session_created',
        target: { type: 'api_key', id: ctx.caller.keyId },
        metadata: { expires_at: expiresAt.toISOString() },
      },
      at,
    );
    return { token, expires_at: expiresAt.toISOString() };
  },
});

export const embedEndpoints = [createEmbedSessionEndpoint];
