import { createHmac } from 'node:crypto';
import type { App } from '../app.js';
import { auditRow, recordAudit } from '../audit/audit.repository.js';
import type { Actor, Caller } from '../auth/caller.js';
import { randomToken, sha256Hex } from '../auth/secrets.js';
import type { Freshness, Reload } from '../auth/verified-cache.js';
import type { Db } from '../db/database.js';
import { AuthenticationError, ForbiddenError } from '../errors.js';
import type { Logger } from '../log.js';
import { personSignal, type Signals } from '../ratelimit/signals.js';
import {
  ACCESS_TOKEN_TTL_SECONDS,
  signAccessToken,
  type VerifiedAccessClaims,
  verifyAccessToken,
} from './access-token.js';
import {
  findLiveSession,
  findRefreshToken,
  insertLogin,
  insertRefreshToken,
  type LiveSession,
  type LockedSession,
  lockSession,
  lockSessionOfRefreshToken,
  recordRotation,
  revokeSession,
  spendLiveRefreshTokens,
} from './session.repository.js';
import type { SessionCache } from './session-cache.js';
import type { UserRow } from './user.repository.js';
import { type TokenPair, toUserView } from './views.js';

/** A login lasts at most 30 days, however often it is refreshed. */
export const SESSION_TTL_MS = 30 * 24 * 3600 * 1000;
/**
 * Two tabs refreshing with the same credential at once must not log the person out: the credential
 * the login's last rotation spent may be presented again for this long, and yields that rotation's
 * pair again (RFC 9700 §4.14.2 allows it). Any older credential is reuse at once.
 */
export const REFRESH_REUSE_GRACE_MS = 10_000;

export interface ClientInfo {
  readonly ip: string | null;
  readonly userAgent: string | null;
}

/** What a client may present to /v1/auth/refresh (API.md §5 "Refreshing"). */
export type RefreshCredential =
  | { readonly kind: 'refresh_token'; readonly token: string }
  | { readonly kind: 'access_token'; readonly token: string };

/** Opaque refresh tokens carry this prefix; no `heir_` (that marks API keys), no JWT shape. */
export const REFRESH_TOKEN_PREFIX = 'rt_';

/** An access token's name in a login's rotation state: a hash of its `jti`, never the jti itself. */
const jtiHash = (jti: string) => sha256Hex(`jti:${jti}`);

/**
 * The pair a rotation issues, derived from the credential it spends with the login's own random key:
 * a re-presentation of that credential within the grace period gets the same pair again, so a login
 * never has two live refresh tokens. Only hashes are stored, so the database alone yields no token:
 * deriving one needs the spent credential, which only its holder has.
 */
function successorOf(rotationKey: string, seed: string): { refreshToken: string; jti: string } {
  const derive = (purpose: string) =>
    createHmac('sha256', rotationKey).update(`${purpose}\n${seed}`).digest('base64url');
  return { refreshToken: `${REFRESH_TOKEN_PREFIX}${derive('refresh_token')}`, jti: derive('jti') };
}

async function tokenPair(
  app: App,
  user: UserRow,
  sessionId: string,
  issued: { refreshToken: string; jti: string; at: Date },
  now: Date,
): Promise<TokenPair> {
  const accessToken = await signAccessToken(
    app.tokens,
    { userId: user.id, tenantId: user.tenant_id, role: user.role, sessionId },
    issued.at,
    issued.jti,
  );
  const issuedAt = Math.floor(issued.at.getTime() / 1000);
  return {
    access_token: accessToken,
    token_type: 'Bearer',
    expires_in: issuedAt + ACCESS_TOKEN_TTL_SECONDS - Math.floor(now.getTime() / 1000),
    refresh_token: issued.refreshToken,
    user: toUserView(user),
  };
}

/**
 * Starts a login: its session and first refresh token, the person's last login and the audit event
 * `action` (by the person), written in one statement (insertLogin), so that a login's writes cost one
 * round trip on top of its one bcrypt comparison; inside the caller's transaction when it has one.
 */
export async function startSession(
  app: App,
  executor: Db,
  user: UserRow,
  client: ClientInfo,
  at: Date,
  audit: { readonly actor: Actor; readonly action: string },
): Promise<TokenPair> {
  const expiresAt = new Date(at.getTime() + SESSION_TTL_MS);
  const jti = randomToken(16);
  // Opaque and random; only its hash is stored.
  const refreshToken = `${REFRESH_TOKEN_PREFIX}${randomToken(32)}`;
  const sessionId = await insertLogin(executor, {
    userId: user.id,
    expiresAt,
    ip: client.ip,
    userAgent: client.userAgent?.slice(0, 300) ?? null,
    rotationKey: randomToken(32),
    accessJtiHash: jtiHash(jti),
    refreshTokenHash: sha256Hex(refreshToken),
    audit: auditRow(
      { ...audit.actor, type: 'user', id: user.id },
      { tenantId: user.tenant_id, action: audit.action, target: { type: 'user', id: user.id } },
      at,
    ),
    at,
  });
  return tokenPair(app, { ...user, last_login_at: at }, sessionId, { refreshToken, jti, at }, at);
}

/** A presented credential, verified as far as it can be without its login. */
type Spendable =
  | { readonly kind: 'refresh_token'; readonly token: string }
  | { readonly kind: 'access_token'; readonly claims: VerifiedAccessClaims };

/** How a credential is named in the rotation state (`hash`), and what its successor derives from. */
function identify(credential: Spendable): { hash: string; seed: string } {
  if (credential.kind === 'refresh_token') {
    return { hash: sha256Hex(credential.token), seed: credential.token };
  }
  return { hash: jtiHash(credential.claims.jti), seed: `jti:${credential.claims.jti}` };
}

/** Whether the credential may start a rotation now: the login's live refresh token or newest access token. */
async function isLive(trx: Db, session: LockedSession, credential: Spendable, hash: string, at: Date) {
  if (credential.kind === 'refresh_token') {
    const token = await findRefreshToken(trx, hash);
    return token?.spent_at === null && token.expires_at > at;
  }
  // A login from before access tokens could be exchanged has no newest one recorded: its first
  // exchange is allowed, and every later one is judged as any other.
  if (session.access_jti_hash === null && session.last_spent_hash === null) return true;
  return session.access_jti_hash === hash;
}

type Outcome =
  | { readonly kind: 'ok'; readonly pair: TokenPair }
  | { readonly kind: 'reused'; readonly userId: string }
  | { readonly kind: 'invalid' | 'suspended' };

/**
 * Rotates a login: the presented credential — its live refresh token, or its newest access token,
 * once — is spent, together with everything else that could rotate it, and one new pair issued.
 * The login's row is locked for the whole decision, so concurrent rotations take turns: exactly one
 * spends the credential; the others find it spent a moment ago and get the same pair (grace), or,
 * outside the grace, revoke the login as a replay (RFC 9700 §4.14.2). While the tenant is suspended
 * nothing is spent.
 */
export async function refreshSession(
  app: App,
  presented: RefreshCredential,
  actor: Actor,
  at: Date,
): Promise<TokenPair> {
  const credential: Spendable =
    presented.kind === 'access_token'
      ? { kind: 'access_token', claims: await verifyAccessToken(app.tokens, presented.token, at) }
      : presented;
  const { hash, seed } = identify(credential);
  const outcome = await app.db.transaction().execute(async (trx): Promise<Outcome> => {
    const session =
      credential.kind === 'refresh_token'
        ? await lockSessionOfRefreshToken(trx, hash)
        : await lockSession(trx, credential.claims.sessionId);
    if (
      !session ||
      session.revoked_at ||
      session.expires_at <= at ||
      session.user_status !== 'active' ||
      (credential.kind === 'access_token' && session.user_id !== credential.claims.userId)
    ) {
      return { kind: 'invalid' };
    }
    if (session.tenant_status !== 'active') return { kind: 'suspended' };

    const user = await trx
      .selectFrom('users')
      .selectAll()
      .where('id', '=', session.user_id)
      .executeTakeFirst();
    if (!user) return { kind: 'invalid' };
    if (await isLive(trx, session, credential, hash, at)) {
      await spendLiveRefreshTokens(trx, session.id, at);
      const next = successorOf(session.rotation_key, seed);
      await insertRefreshToken(trx, {
        sessionId: session.id,
        tokenHash: sha256Hex(next.refreshToken),
        expiresAt: session.expires_at,
        at,
      });
      await recordRotation(trx, session.id, { spentHash: hash, accessJtiHash: jtiHash(next.jti), at });
      return { kind: 'ok', pair: await tokenPair(app, user, session.id, { ...next, at }, at) };
    }
    const rotatedAt = session.last_rotated_at;
    if (
      session.last_spent_hash === hash &&
      rotatedAt &&
      at.getTime() - rotatedAt.getTime() <= REFRESH_REUSE_GRACE_MS
    ) {
      // The last rotation spent this very credential a moment ago: hand out what it issued.
      const next = successorOf(session.rotation_key, seed);
      return { kind: 'ok', pair: await tokenPair(app, user, session.id, { ...next, at: rotatedAt }, at) };
    }
    await revokeSession(trx, session.id, 'refresh_token_reused', at);
    await recordAudit(
      trx,
      actor,
      {
        tenantId: session.tenant_id,
        action: 'session.revoked',
        target: { type: 'user', id: session.user_id },
        metadata: { session_id: session.id, reason: 'refresh_token_reused', credential: credential.kind },
      },
      at,
    );
    return { kind: 'reused', userId: session.user_id };
  });
  // Thrown after the commit, so that the revocation of a replayed login is kept.
  switch (outcome.kind) {
    case 'ok':
      return outcome.pair;
    case 'reused':
      await personChanged(app, [outcome.userId]);
      throw new AuthenticationError(
        'refresh_token_reused',
        'This credential was already used to refresh; every token of its login has been revoked.',
      );
    case 'invalid':
      throw new AuthenticationError(
        'invalid_token',
        credential.kind === 'refresh_token'
          ? 'The refresh token is unknown, expired or revoked.'
          : 'This login has ended.',
      );
    case 'suspended':
      throw new ForbiddenError('tenant_suspended');
  }
}

/** Ends one login: its refresh tokens stop working, and so do its access tokens (checked per request). */
export async function endSession(
  app: App,
  person: { readonly userId: string; readonly tenantId: string; readonly sessionId: string },
  actor: Actor,
  at: Date,
): Promise<void> {
  const { sessionId, tenantId } = person;
  await app.db.transaction().execute(async (trx) => {
    await revokeSession(trx, sessionId, 'logout', at);
    await recordAudit(
      trx,
      actor,
      { tenantId, action: 'session.logout', target: { type: 'session', id: sessionId } },
      at,
    );
  });
  await personChanged(app, [person.userId]);
}

/**
 * Verifies a person's access token and that its login is still live: a logout, a password reset, a
 * removal or a disabled account ends access at once, not when the token expires.
 */
export async function authenticatePerson(app: App, token: string, fresh: Reload = false): Promise<Caller> {
  const at = app.now();
  const claims = await verifyAccessToken(app.tokens, token, at);
  const signal = personSignal(claims.userId);
  const hit = fresh ? undefined : app.sessionCache.get(claims.sessionId, at.getTime());
  // A login is cached only while live and active; its end (or the person's, or a change of either)
  // moves the person's signal, which the pipeline reads with the request's rate-limit call.
  if (hit && hit.record.user_id === claims.userId && hit.record.expires_at > at)
    return personCaller(hit.record, { signal, versions: hit.versions, loaded: false });
  // The version first, then the row: a change committed after this read moves the version.
  const versions = fresh === 'signal-down' ? null : await app.signals.read(signal).catch(() => null);
  const live = await findLiveSession(app.db, claims.sessionId, claims.userId, at);
  if (live?.status !== 'active') throw new AuthenticationError('invalid_token', 'This login has ended.');
  if (live.tenant_status !== 'active') throw new ForbiddenError('tenant_suspended');
  if (versions !== null) app.sessionCache.set(claims.sessionId, live, versions, at.getTime());
  return personCaller(live, { signal, versions, loaded: true });
}

function personCaller(live: LiveSession, freshness: Freshness): Caller {
  return {
    kind: 'person',
    userId: live.user_id,
    tenantId: live.tenant_id,
    role: live.role,
    sessionId: live.session_id,
    session: live,
    freshness,
  };
}

/**
 * After a committed change of people's accounts or logins (a logout, a password change, a role change,
 * a removal, a new login's last-login time): this instance forgets their cached logins at once and every
 * other instance sees their signal move on its next request. A signal that cannot be written (Redis
 * down) is logged: other instances then hold the old row for at most the cache's TTL.
 */
export async function personChanged(
  deps: { sessionCache: SessionCache; signals: Signals; log: Logger },
  userIds: readonly string[],
): Promise<void> {
  deps.sessionCache.deleteWhere((live) => userIds.includes(live.user_id));
  await deps.signals.bump(userIds.map(personSignal)).catch((error: unknown) => {
    deps.log.error('person change signal not written: other instances may use the old login until its TTL', {
      error,
    });
  });
}
