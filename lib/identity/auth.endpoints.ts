import * as z from 'zod';
import { AuthenticationError, BadRequestError, NotFoundError } from '../errors.js';
import type { RequestContext } from '../http/context.js';
import { defineEndpoint } from '../http/endpoint.js';
import { lazy } from '../lazy.js';
import { policies } from '../ratelimit/policies.js';
import { tenantSchema } from '../tenants/tenant.schemas.js';
import { emailKey, loginEmailSchema } from './email.js';
import { logIn, setInitialPassword } from './login.service.js';
import { loginPasswordSchema, newPasswordSchema } from './password.js';
import { checkResetToken, resetPassword, sendPasswordReset } from './password-reset.service.js';
import { endSession, REFRESH_TOKEN_PREFIX, refreshSession } from './session.service.js';
import { tokenPairSchema, toUserView, userSchema } from './views.js';

const tags = ['Authentication'];
const loginBody = lazy(() => z.object({ email: loginEmailSchema(), password: loginPasswordSchema() }));
const messageSchema = lazy(() => z.object({ message: z.string() }));

function clientOf(ctx: RequestContext) {
  return { ip: ctx.ip, userAgent: ctx.headers.get('user-agent') };
}

function loginEndpoint(path: string, summary: string) {
  return defineEndpoint({
    method: 'POST',
    path,
    summary,
    tags,
    auth: 'none',
    body: loginBody,
    rateLimit: { byIp: policies.loginByIp },
    response: {
      status: 200,
      description: 'An access token and a refresh token',
      schema: tokenPairSchema,
    },
    errors: [401, 403],
    handler: (ctx, { body }) => logIn(ctx.app, ctx, ctx.actor, clientOf(ctx), body),
  });
}

export const loginEndpoints = [
  loginEndpoint('/v1/auth', 'Log in with email and password'),
  loginEndpoint('/v1/auth/team-member', 'Log in (alias kept for clients of the e-invoicing docs)'),
];

export const meEndpoint = defineEndpoint({
  method: 'GET',
  path: '/v1/auth/me',
  summary: 'The person behind the access token, and their tenant',
  tags,
  auth: { person: {} },
  response: {
    status: 200,
    description: 'The person and their tenant, read from the database',
    schema: () =>
      z.object({
        user: userSchema(),
        tenant: tenantSchema().pick({ id: true, name: true, slug: true, status: true, max_tier: true }),
      }),
  },
  handler: async (ctx) => {
    if (ctx.caller.kind !== 'person') throw new NotFoundError();
    // Answered from the live-session check's own read (lib/identity/session.repository.ts): a JWT
    // request makes one Postgres read, not one for the session and two more here.
    const { session } = ctx.caller;
    return {
      user: toUserView({ ...session, id: session.user_id }),
      tenant: {
        id: session.tenant_id,
        name: session.tenant_name,
        slug: session.tenant_slug,
        status: session.tenant_status,
        max_tier: session.tenant_max_tier,
      },
    };
  },
});

const refreshBody = lazy(() =>
  z
    .object({
      refresh_token: z
        .string()
        .min(1)
        .max(200)
        .optional()
        .meta({ description: 'A refresh token (`rt_…`), if it is not sent as `Authorization: Bearer`.' }),
    })
    .meta({
      description:
        'Send one credential: a refresh token, as `Authorization: Bearer rt_…` or as `refresh_token` in this body; ' +
        'or the current access token (JWT) as `Authorization: Bearer <access token>`, as the e-invoicing docs show. ' +
        'Either is spent: a refresh token rotates, an access token is exchanged once. Presented again, it is reuse ' +
        '(`401 refresh_token_reused`, the login is revoked), except within 10 seconds of its use, when the same pair is returned.',
    }),
);

export const refreshEndpoint = defineEndpoint({
  method: 'POST',
  path: '/v1/auth/refresh',
  summary: 'Exchange a refresh token, or the current access token (once), for a new pair of the same login',
  tags,
  auth: 'none',
  body: refreshBody,
  rateLimit: { byIp: policies.refreshByIp },
  response: {
    status: 200,
    description: 'A new access token and refresh token',
    schema: tokenPairSchema,
  },
  errors: [401, 403],
  handler: async (ctx, { body }) => {
    const fromHeader = ctx.credential?.kind === 'bearer_token' ? ctx.credential.token : undefined;
    if (fromHeader && body.refresh_token && fromHeader !== body.refresh_token) {
      throw new BadRequestError(
        'ambiguous_credentials',
        'Send one credential: the refresh token in the header or in the body, or the access token in the header.',
      );
    }
    if (fromHeader) {
      // The header carries either kind; refresh tokens are recognisable by their prefix, anything else
      // is verified as an access token (and refused as invalid_token if it is not one).
      const kind = fromHeader.startsWith(REFRESH_TOKEN_PREFIX) ? 'refresh_token' : 'access_token';
      return refreshSession(ctx.app, { kind, token: fromHeader }, ctx.actor, ctx.now());
    }
    if (body.refresh_token) {
      return refreshSession(
        ctx.app,
        { kind: 'refresh_token', token: body.refresh_token },
        ctx.actor,
        ctx.now(),
      );
    }
    throw new AuthenticationError(
      'missing_credentials',
      'Send the refresh token or the current access token as a Bearer token, or the refresh token in the body.',
    );
  },
});

export const logoutEndpoint = defineEndpoint({
  method: 'POST',
  path: '/v1/auth/logout',
  summary: 'End this login: its refresh tokens and access tokens stop working',
  tags,
  auth: { person: {} },
  response: { status: 204, description: 'Logged out' },
  handler: async (ctx) => {
    if (ctx.caller.kind !== 'person') throw new NotFoundError();
    await endSession(ctx.app, ctx.caller, ctx.actor, ctx.now());
    return undefined;
  },
});

const FORGOT_MESSAGE = 'If an account exists for this email, a link to reset its password is on its way.';

export const forgotPasswordEndpoint = defineEndpoint({
  method: 'POST',
  path: '/v1/auth/forgot-password',
  summary: 'Email a password reset link (the answer is the same whether or not the account exists)',
  tags,
  auth: 'none',
  body: () => z.object({ email: loginEmailSchema() }),
  rateLimit: {
    byIp: policies.forgotPasswordByIp,
    byBody: { policy: policies.forgotPasswordByEmail, key: (body) => emailKey(body.email) },
  },
  response: { status: 202, description: 'Accepted', schema: messageSchema },
  handler: async (ctx, { body }) => {
    // The work happens after the answer, so its timing says nothing about the account's existence.
    ctx.app.defer(sendPasswordReset(ctx.app, ctx.actor, body.email));
    return { message: FORGOT_MESSAGE };
  },
});

export const validateResetTokenEndpoint = defineEndpoint({
  method: 'GET',
  path: '/v1/auth/validate-reset-token/{token}',
  summary: 'Check a password reset token without spending it',
  tags,
  auth: 'none',
  params: () => z.object({ token: z.string() }),
  rateLimit: { byIp: policies.passwordResetByIp },
  response: {
    status: 200,
    description: 'The token is valid',
    schema: () => z.object({ valid: z.literal(true), expires_at: z.iso.datetime() }),
  },
  handler: async (ctx, { params }) => {
    // Any string is looked up by its hash; one that names no live token is invalid_reset_token.
    const { expiresAt } = await checkResetToken(ctx.app, params.token);
    return { valid: true as const, expires_at: expiresAt.toISOString() };
  },
});

export const resetPasswordEndpoint = defineEndpoint({
  method: 'POST',
  path: '/v1/auth/reset-password',
  summary: 'Set a new password with a reset token; every session of the person ends',
  tags,
  auth: 'none',
  body: () => z.object({ token: z.string().min(1).max(200), password: newPasswordSchema() }),
  rateLimit: { byIp: policies.passwordResetByIp },
  response: { status: 200, description: 'The password was changed', schema: messageSchema },
  handler: async (ctx, { body }) => {
    await resetPassword(ctx.app, ctx.actor, body.token, body.password);
    return { message: 'Your password has been changed. Log in with the new one.' };
  },
});

export const setPasswordEndpoint = defineEndpoint({
  method: 'POST',
  path: '/v1/auth/set-password',
  summary: 'Replace a temporary password and log in',
  tags,
  auth: 'none',
  body: () =>
    z.object({
      email: loginEmailSchema(),
      temporary_password: loginPasswordSchema(),
      new_password: newPasswordSchema(),
    }),
  rateLimit: { byIp: policies.loginByIp },
  response: { status: 200, description: 'Tokens, as for a login', schema: tokenPairSchema },
  errors: [401, 403],
  handler: (ctx, { body }) =>
    setInitialPassword(ctx.app, ctx, ctx.actor, clientOf(ctx), {
      email: body.email,
      temporaryPassword: body.temporary_password,
      newPassword: body.new_password,
    }),
});

export const authEndpoints = [
  ...loginEndpoints,
  meEndpoint,
  refreshEndpoint,
  logoutEndpoint,
  forgotPasswordEndpoint,
  validateResetTokenEndpoint,
  resetPasswordEndpoint,
  setPasswordEndpoint,
];
