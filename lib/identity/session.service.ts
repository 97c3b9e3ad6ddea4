import type { App } from '../app.js';
import { recordAudit } from '../audit/audit.repository.js';
import type { Actor, Caller } from '../auth/caller.js';
import { randomToken, sha256Hex } from '../auth/secrets.js';
import type { Db } from '../db/database.js';
import { AuthenticationError, ForbiddenError } from '../errors.js';
import { ACCESS_TOKEN_TTL_SECONDS, signAccessToken, verifyAccessToken } from './access-token.js';
import {
  findLiveSession,
  findRefreshToken,
  insertRefreshToken,
  insertSession,
  revokeSession,
  spendRefreshToken,
} from './session.repository.js';
import type { UserRow } from './user.repository.js';
import { type TokenPair, toUserView } from './views.js';

/** A login lasts at most 30 days, however often it is refreshed. */
export const SESSION_TTL_MS = 30 * 24 * 3600 * 1000;
/**
 * Two tabs refreshing with the same token at once must not log the person out: a token spent less
 * than this long ago may be presented again and yields a fresh pair (RFC 9700 §4.14.2 allows it).
 */
export const REFRESH_REUSE_GRACE_MS = 10_000;

export interface ClientInfo {
  readonly ip: string | null;
  readonly userAgent: string | null;
}

async function newRefreshToken(trx: Db, sessionId: string, expiresAt: Date, at: Date): Promise<string> {
  // Opaque and random; only its hash is stored. No `heir_` prefix: that marks API keys.
  const token = `rt_${randomToken(32)}`;
  await insertRefreshToken(trx, { sessionId, tokenHash: sha256Hex(token), expiresAt, at });
  return token;
}

async function tokenPair(
  app: App,
  user: UserRow,
  sessionId: string,
  refreshToken: string,
  at: Date,
): Promise<TokenPair> {
  const accessToken = await signAccessToken(
    app.tokens,
    { userId: user.id, tenantId: user.tenant_id, role: user.role, sessionId },
    at,
  );
  return {
    access_token: accessToken,
    token_type: 'Bearer',
    expires_in: ACCESS_TOKEN_TTL_SECONDS,
    refresh_token: refreshToken,
    user: toUserView(user),
  };
}

/** Starts a login (a session and its first refresh token) inside the caller's transaction. */
export async function startSession(
  app: App,
  trx: Db,
  user: UserRow,
  client: ClientInfo,
  at: Date,
): Promise<TokenPair> {
  const expiresAt = new Date(at.getTime() + SESSION_TTL_MS);
  const session = await insertSession(trx, {
    userId: user.id,
    expiresAt,
    ip: client.ip,
    userAgent: client.userAgent?.slice(0, 300) ?? null,
    at,
  });
  const refreshToken = await newRefreshToken(trx, session.id, expiresAt, at);
  return tokenPair(app, { ...user, last_login_at: at }, session.id, refreshToken, at);
}

/**
 * Rotates a refresh token: the presented one is spent and a new pair issued. A token spent earlier
 * than the grace period is a replay — somebody holds a copy — so the whole login is revoked.
 */
export async function refreshSession(
  app: App,
  refreshToken: string,
  actor: Actor,
  at: Date,
): Promise<TokenPair> {
  const outcome = await app.db.transaction().execute(async (trx) => {
    const found = await findRefreshToken(trx, sha256Hex(refreshToken));
    if (!found || found.session_revoked_at || found.session_expires_at <= at || found.expires_at <= at) {
      return { kind: 'invalid' as const };
    }
    const spentByUs = found.spent_at === null && (await spendRefreshToken(trx, found.id, at));
    if (!spentByUs) {
      // Spent before (or by a concurrent request a moment ago, whose commit we waited for).
      const spentAt = found.spent_at ?? at;
      if (at.getTime() - spentAt.getTime() > REFRESH_REUSE_GRACE_MS) {
        await revokeSession(trx, found.session_id, 'refresh_token_reused', at);
        const user = await trx
          .selectFrom('users')
          .select('tenant_id')
          .where('id', '=', found.user_id)
          .executeTakeFirst();
        await recordAudit(
          trx,
          actor,
          {
            tenantId: user?.tenant_id ?? null,
            action: 'session.revoked',
            target: { type: 'user', id: found.user_id },
            metadata: { session_id: found.session_id, reason: 'refresh_token_reused' },
          },
          at,
        );
        return { kind: 'reused' as const };
      }
    }
    const user = await trx
      .selectFrom('users')
      .selectAll()
      .where('id', '=', found.user_id)
      .executeTakeFirstOrThrow();
    const tenant = await trx
      .selectFrom('tenants')
      .select('status')
      .where('id', '=', user.tenant_id)
      .executeTakeFirstOrThrow();
    if (user.status !== 'active') return { kind: 'invalid' as const };
    if (tenant.status !== 'active') return { kind: 'suspended' as const };
    const next = await newRefreshToken(trx, found.session_id, found.session_expires_at, at);
    return { kind: 'ok' as const, pair: await tokenPair(app, user, found.session_id, next, at) };
  });
  // Thrown after the commit, so that the revocation of a replayed login is kept.
  if (outcome.kind === 'reused') throw new AuthenticationError('refresh_token_reused');
  if (outcome.kind === 'invalid')
    throw new AuthenticationError('invalid_token', 'The refresh token is unknown, expired or revoked.');
  if (outcome.kind === 'suspended') throw new ForbiddenError('tenant_suspended');
  return outcome.pair;
}

/** Ends one login: its refresh tokens stop working, and so do its access tokens (checked per request). */
export async function endSession(
  db: Db,
  sessionId: string,
  actor: Actor,
  tenantId: string,
  at: Date,
): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await revokeSession(trx, sessionId, 'logout', at);
    await recordAudit(
      trx,
      actor,
      { tenantId, action: 'session.logout', target: { type: 'session', id: sessionId } },
      at,
    );
  });
}

/**
 * Verifies a person's access token and that its login is still live: a logout, a password reset, a
 * removal or a disabled account ends access at once, not when the token expires.
 */
export async function authenticatePerson(app: App, token: string): Promise<Caller> {
  const at = app.now();
  const claims = await verifyAccessToken(app.tokens, token, at);
  const live = await findLiveSession(app.db, claims.sessionId, claims.userId, at);
  if (live?.status !== 'active') throw new AuthenticationError('invalid_token', 'This login has ended.');
  if (live.tenant_status !== 'active') throw new ForbiddenError('tenant_suspended');
  return {
    kind: 'person',
    userId: live.user_id,
    tenantId: live.tenant_id,
    role: live.role,
    sessionId: live.session_id,
  };
}
