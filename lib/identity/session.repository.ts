import type { Selectable } from 'kysely';
import type { Db } from '../db/database.js';
import type { Database } from '../db/tables.js';

export type SessionRow = Selectable<Database['sessions']>;
export type RefreshTokenRow = Selectable<Database['refresh_tokens']>;

export function insertSession(
  executor: Db,
  values: { userId: string; expiresAt: Date; ip: string | null; userAgent: string | null; at: Date },
): Promise<SessionRow> {
  return executor
    .insertInto('sessions')
    .values({
      user_id: values.userId,
      expires_at: values.expiresAt,
      ip: values.ip,
      user_agent: values.userAgent,
      created_at: values.at,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
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

/** A refresh token with its session and person, by hash. */
export function findRefreshToken(executor: Db, tokenHash: string) {
  return executor
    .selectFrom('refresh_tokens as rt')
    .innerJoin('sessions as s', 's.id', 'rt.session_id')
    .innerJoin('users as u', 'u.id', 's.user_id')
    .innerJoin('tenants as t', 't.id', 'u.tenant_id')
    .select([
      'rt.id',
      'rt.session_id',
      'rt.expires_at',
      'rt.spent_at',
      's.revoked_at as session_revoked_at',
      's.expires_at as session_expires_at',
      'u.id as user_id',
    ])
    .where('rt.token_hash', '=', tokenHash)
    .executeTakeFirst();
}

/** Spends a token exactly once: true for the one caller that flipped it, false for any other. */
export async function spendRefreshToken(executor: Db, id: string, at: Date): Promise<boolean> {
  const result = await executor
    .updateTable('refresh_tokens')
    .set({ spent_at: at })
    .where('id', '=', id)
    .where('spent_at', 'is', null)
    .executeTakeFirst();
  return result.numUpdatedRows === 1n;
}

/** The live session behind an access token, with what authorisation needs from person and tenant. */
export function findLiveSession(executor: Db, sessionId: string, userId: string, at: Date) {
  return executor
    .selectFrom('sessions as s')
    .innerJoin('users as u', 'u.id', 's.user_id')
    .innerJoin('tenants as t', 't.id', 'u.tenant_id')
    .select([
      's.id as session_id',
      'u.id as user_id',
      'u.tenant_id',
      'u.role',
      'u.status',
      't.status as tenant_status',
    ])
    .where('s.id', '=', sessionId)
    .where('s.user_id', '=', userId)
    .where('s.revoked_at', 'is', null)
    .where('s.expires_at', '>', at)
    .executeTakeFirst();
}

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
