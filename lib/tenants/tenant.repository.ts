import type { Selectable } from 'kysely';
import type { Db } from '../db/database.js';
import { newestFirst, type PageRequest } from '../db/pagination.js';
import type { Database, Tier } from '../db/tables.js';

export type TenantRow = Selectable<Database['tenants']>;

export async function insertTenant(
  executor: Db,
  values: { name: string; slug: string; maxTier: Tier; at: Date },
): Promise<TenantRow> {
  return executor
    .insertInto('tenants')
    .values({
      name: values.name,
      slug: values.slug,
      max_tier: values.maxTier,
      created_at: values.at,
      updated_at: values.at,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function findTenant(executor: Db, id: string): Promise<TenantRow | undefined> {
  return executor.selectFrom('tenants').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function slugTaken(executor: Db, slug: string): Promise<boolean> {
  const row = await executor.selectFrom('tenants').select('id').where('slug', '=', slug).executeTakeFirst();
  return row !== undefined;
}

/** A page of tenants, newest first. */
export function listTenants(executor: Db, page: PageRequest) {
  return newestFirst(executor.selectFrom('tenants').selectAll(), page);
}

/** Updates the given fields; returns the row before and after, or undefined when it does not exist. */
export async function updateTenant(
  executor: Db,
  id: string,
  changes: { name?: string; status?: 'active' | 'suspended'; max_tier?: Tier },
  at: Date,
): Promise<{ before: TenantRow; after: TenantRow } | undefined> {
  // Lock the row so the audit record's before/after describe exactly this change.
  const before = await executor
    .selectFrom('tenants')
    .selectAll()
    .where('id', '=', id)
    .forUpdate()
    .executeTakeFirst();
  if (!before) return undefined;
  const after = await executor
    .updateTable('tenants')
    .set({ ...changes, updated_at: at })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
  return { before, after };
}
