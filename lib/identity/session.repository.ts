import { randomUUID } from 'node:crypto';
import type { Insertable, Selectable } from 'kysely';
import type { Db } from '../db/database.js';
import type { Database } from '../db/tables.js';

export type SessionRow = Selectable<Database['sessions']>;
export type RefreshTokenRow = Selectable<Database['refresh_tokens']>;

/**
 * A new login in ONE statement (one round trip, atomic on its own): the session, its first refresh
 * token, the person's last login recorded (failure count cleared) and the audit event. Its session id
 * is made here, so the refresh token's insert needs nothing back from the session's; the foreign key
 * is checked at the end of the statement, when both rows exist.
 */
export async function insertLogin(
  executor: Db,
  login: {
    userId: string;
    expiresAt: Date;
    ip: string | null;
    userAgent: string | null;
    rotationKey: string;
    accessJtiHash: string;
    refreshTokenHash: string;
    audit: Insertable<Database['audit_events']>;
    at: Date;
  },
): Promise<string> {
  const sessionId = randomUUID();
  await executor
    .with('session', (db) =>
      db
        .insertInto('sessions')
        .values({
          id: sessionId,
          user_id: login.userId,
          expires_at: login.expiresAt,
          ip: login.ip,
          user_agent: login.userAgent,
          rotation_key: login.rotationKey,
          access_jti_hash: login.accessJtiHash,
          created_at: login.at,
        })
        .returning('id'),
    )
    .with('refresh_token', (db) =>
      db
        .insertInto('refresh_tokens')
        .values({
          session_id: sessionId,
          token_hash: login.refreshTokenHash,
          expires_at: login.expiresAt,
          created_at: login.at,
        })
        .returning('id'),
    )
    .with('person', (db) =>
      db
        .updateTable('users')
        .set({ failed_logins: 0, last_login_at: login.at })
        .where('id', '=', login.userId)
        .returning('id'),
    )
    .with('audit', (db) => db.insertInto('audit_events').values(login.audit).returning('id'))
    .selectFrom('session')
    .select('id')
    .executeTakeFirstOrThrow();
  return sessionId;
}

export async function insertRefreshToken(
  executor: Db,
  values: { sessionId: string; tokenHash: string; expiresAt: Date; at: Date },
): Promise<void> {
  await executor
    .insertInto('refresh_tokens')
    .values({
      session_id: values.sessionId,
      token_hash: values.tokenHash,
      expires_at: values.expiresAt,
      created_at: values.at,
    })
    .execute();
}

/**
 * A login with what a refresh needs from its person and tenant, its row locked until the transaction
 * ends: every rotation of one login queues here, so exactly one of any concurrent ones goes first and
 * the others see what it did. (FOR NO KEY UPDATE: enough to serialise rotations, and it does not hold
 * up inserts that merely reference the session.)
 */
function lockedSession(executor: Db) {
  return executor
    .selectFrom('sessions as s')
    .innerJoin('users as u', 'u.id', 's.user_id')
    .innerJoin('tenants as t', 't.id', 'u.tenant_id')
    .select([
      's.id',
      's.user_id',
      's.expires_at',
      's.revoked_at',
      's.rotation_key',
      's.access_jti_hash',
      's.last_spent_hash',
      's.last_rotated_at',
      'u.tenant_id',
      'u.status as user_status',
      't.status as tenant_status',
    ])
    .forNoKeyUpdate('s');
}

export type LockedSession = NonNullable<Awaited<ReturnType<typeof lockSession>>>;

export function lockSession(executor: Db, sessionId: string) {
  return lockedSession(executor).where('s.id', '=', sessionId).executeTakeFirst();
}

/** The same, for the login a refresh token belongs to (one round trip). */
export function lockSessionOfRefreshToken(executor: Db, tokenHash: string) {
  return lockedSession(executor)
    .where('s.id', '=', (eb) =>
      eb.selectFrom('refresh_tokens').select('session_id').where('token_hash', '=', tokenHash),
    )
    .executeTakeFirst();
}

/** A refresh token's own state, read after its login is locked (so it is current). */
export function findRefreshToken(executor: Db, tokenHash: string) {
  return executor
    .selectFrom('refresh_tokens')
    .select(['id', 'session_id', 'expires_at', 'spent_at'])
    .where('token_hash', '=', tokenHash)
    .executeTakeFirst();
}

/** Spends whatever refresh token of the login is still live (one; more only in logins from before). */
export async function spendLiveRefreshTokens(executor: Db, sessionId: string, at: Date): Promise<void> {
  await executor
    .updateTable('refresh_tokens')
    .set({ spent_at: at })
    .where('session_id', '=', sessionId)
    .where('spent_at', 'is', null)
    .execute();
}

/** Records a rotation: what it spent, when, and which access token may be exchanged next. */
export async function recordRotation(
  executor: Db,
  sessionId: string,
  values: { spentHash: string; accessJtiHash: string; at: Date },
): Promise<void> {
  await executor
    .updateTable('sessions')
    .set({
      last_spent_hash: values.spentHash,
      access_jti_hash: values.accessJtiHash,
      last_rotated_at: values.at,
    })
    .where('id', '=', sessionId)
    .execute();
}

/** The live session behind an access token, with what authorisation needs from person and tenant. */
export function findLiveSession(executor: Db, sessionId: string, userId: string, at: Date) {
  return executor
    .selectFrom('sessions as s')
    .innerJoin('users as u', 'u.id', 's.user_id')
    .innerJoin('tenants as t', 't.id', 'u.tenant_id')
    .select([
      's.id as session_id',
      // A cached row (lib/identity/session.service.ts) is checked against it on every use.
      's.expires_at',
      'u.id as user_id',
      'u.tenant_id',
      'u.role',
      'u.status',
      't.status as tenant_status',
      // What GET /v1/auth/me shows, read here so that a JWT request makes one read (issue 8): a few
      // short columns more in a row that is read anyway.
      'u.email',
      'u.name',
      'u.created_at',
      'u.last_login_at',
      't.name as tenant_name',
      't.slug as tenant_slug',
      't.max_tier as tenant_max_tier',
    ])
    .where('s.id', '=', sessionId)
    .where('s.user_id', '=', userId)
    .where('s.revoked_at', 'is', null)
    .where('s.expires_at', '>', at)
    .executeTakeFirst();
}

export type LiveSession = NonNullable<Awaited<ReturnType<typeof findLiveSession>>>;

export async function revokeSession(
  executor: Db,
  sessionId: string,
  reason: string,
  at: Date,
): Promise<void> {
  await executor
    .updateTable('sessions')
    .set({ revoked_at: at, revoked_reason: reason })
    .where('id', '=', sessionId)
    .where('revoked_at', 'is', null)
    .execute();
}

/** Ends every session of a person; returns how many were live. */
export async function revokeUserSessions(
  executor: Db,
  userId: string,
  reason: string,
  at: Date,
): Promise<number> {
  const result = await executor
    .updateTable('sessions')
    .set({ revoked_at: at, revoked_reason: reason })
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}
