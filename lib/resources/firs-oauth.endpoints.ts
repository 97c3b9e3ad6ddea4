import * as z from 'zod';
import { defineEndpoint } from '../http/endpoint.js';
import { connectFirs } from './firs-oauth.js';

const printable = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces');

export const firsOAuthEndpoint = defineEndpoint({
  method: 'POST',
  path: '/v1/auth/oauth/firs',
  summary: 'Connect the tenant to FIRS: exchange an OAuth authorization code (tokens stored encrypted)',
  tags: ['Settings'],
  auth: { apiKey: { scopes: ['credentials'] }, person: { roles: ['owner', 'admin'] } },
  tenant: 'caller',
  body: () =>
    z.strictObject({
      code: printable(2048),
      redirect_uri: z.url({ protocol: /^https?$/ }).max(2048),
      // RFC 7636 §4.1: 43–128 unreserved characters.
      code_verifier: z
        .string()
        .regex(/^[A-Za-z0-9._~-]{43,128}$/, 'a PKCE verifier: 43–128 of A-Z a-z 0-9 . _ ~ -')
        .optional(),
    }),
  response: {
    status: 200,
    description: 'Connected',
    schema: () => z.object({ connected: z.literal(true), expires_at: z.string().nullable() }),
  },
  errors: [502, 503, 504],
  handler: async (ctx, { body }) => {
    const { expiresAt } = await connectFirs(
      { db: ctx.db, actor: ctx.actor, tenantId: ctx.tenantId, at: ctx.now() },
      ctx.app.cipher,
      ctx.app.config.firsOAuth,
      body,
    );
    return { connected: true as const, expires_at: expiresAt?.toISOString() ?? null };
  },
});

export const firsOAuthEndpoints = [firsOAuthEndpoint];
