import type { Selectable } from 'kysely';
import type { Db } from '../db/database.js';
import { newestFirst, type PageRequest } from '../db/pagination.js';
import type { Database, Role } from '../db/tables.js';

export type UserRow = Selectable<Database['users']>;

export async function insertUser(
  executor: Db,
  values: {
    tenantId: string;
    email: string;
    emailKey: string;
    name: string;
    role: Role;
    passwordHash: string;
    at: Date;
  },
): Promise<UserRow> {
  return executor
    .insertInto('users')
    .values({
      tenant_id: values.tenantId,
      email: values.email,
      email_key: values.emailKey,
      name: values.name,
      role: values.role,
      password_hash: values.passwordHash,
      password_temporary: true,
      created_at: values.at,
      updated_at: values.at,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export function findUserByEmailKey(executor: Db, emailKey: string): Promise<UserRow | undefined> {
  // Postgres text cannot hold NUL (the query would fail with a 500); no stored email has one.
  if (emailKey.includes('\u0000')) return Promise.resolve(undefined);
  return executor.selectFrom('users').selectAll().where('email_key', '=', emailKey).executeTakeFirst();
}

/**
 * The account a login names, with its tenant's status: a login reads both in one query, for a known
 * and an unknown email alike.
 */
export function findLoginAccount(executor: Db, emailKey: string) {
  // Postgres text cannot hold NUL (the query would fail with a 500); no stored email has one.
  if (emailKey.includes('\u0000')) return Promise.resolve(undefined);
  return executor
    .selectFrom('users')
    .innerJoin('tenants', 'tenants.id', 'users.tenant_id')
    .selectAll('users')
    .select('tenants.status as tenant_status')
    .where('users.email_key', '=', emailKey)
    .executeTakeFirst();
}

export type LoginAccount = NonNullable<Awaited<ReturnType<typeof findLoginAccount>>>;

/** A person of one tenant: another tenant's person is simply not found. */
export function findTenantUser(
  executor: Db,
  tenantId: string,
  userId: string,
  lock = false,
): Promise<UserRow | undefined> {
  const query = executor
    .selectFrom('users')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('id', '=', userId);
  return (lock ? query.forUpdate() : query).executeTakeFirst();
}

/** A page of a tenant's people, newest first. */
export function listTenantUsers(executor: Db, tenantId: string, page: PageRequest) {
  return newestFirst(executor.selectFrom('users').selectAll().where('tenant_id', '=', tenantId), page);
}

/** Counts a failed login in one statement (no read-modify-write). */
export async function countFailedLogin(executor: Db, userId: string): Promise<void> {
  await executor
    .updateTable('users')
    .set((eb) => ({ failed_logins: eb('failed_logins', '+', 1) }))
    .where('id', '=', userId)
    .execute();
}

/** Sets a chosen password: no longer temporary, the failure counter cleared. */
export async function setPassword(
  executor: Db,
  userId: string,
  passwordHash: string,
  at: Date,
): Promise<void> {
  await executor
    .updateTable('users')
    .set({
      password_hash: passwordHash,
      password_temporary: false,
      failed_logins: 0,
      password_changed_at: at,
      updated_at: at,
    })
    .where('id', '=', userId)
    .execute();
}

/**
 * Replaces a temporary password, only if it is still temporary and still `currentHash`: one
 * statement, so that of concurrent replacements exactly one succeeds (true for that one).
 */
export async function replaceTemporaryPassword(
  executor: Db,
  userId: string,
  currentHash: string,
  passwordHash: string,
  at: Date,
): Promise<boolean> {
  const result = await executor
    .updateTable('users')
    .set({
      password_hash: passwordHash,
      password_temporary: false,
      failed_logins: 0,
      password_changed_at: at,
      updated_at: at,
    })
    .where('id', '=', userId)
    .where('password_temporary', '=', true)
    .where('password_hash', '=', currentHash)
    .executeTakeFirst();
  return result.numUpdatedRows === 1n;
}

/** Owners of a tenant who are active (the last one may not be removed, demoted or disabled). */
export async function countActiveOwners(executor: Db, tenantId: string): Promise<number> {
  const row = await executor
    .selectFrom('users')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('tenant_id', '=', tenantId)
    .where('role', '=', 'owner')
    .where('status', '=', 'active')
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
