import type { Db } from '../db/database.js';
import { newestFirst, type PageRequest } from '../db/pagination.js';
import type { JsonValue } from '../db/tables.js';

const json = (value: unknown) => JSON.stringify(value) as unknown as JsonValue;

export function findEventRouting(executor: Db, tenantId: string) {
  return executor
    .selectFrom('event_routing')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .executeTakeFirst();
}

export function upsertEventRouting(trx: Db, tenantId: string, routes: unknown, at: Date) {
  return trx
    .insertInto('event_routing')
    .values({ tenant_id: tenantId, routes: json(routes), created_at: at, updated_at: at })
    .onConflict((oc) => oc.column('tenant_id').doUpdateSet({ routes: json(routes), updated_at: at }))
    .returningAll()
    .executeTakeFirstOrThrow();
}

export function insertSandboxRun(trx: Db, tenantId: string, checks: unknown, ok: boolean, at: Date) {
  return trx
    .insertInto('sandbox_runs')
    .values({ tenant_id: tenantId, checks: json(checks), ok, created_at: at })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export function listSandboxRuns(executor: Db, tenantId: string, page: PageRequest) {
  return newestFirst(executor.selectFrom('sandbox_runs').selectAll().where('tenant_id', '=', tenantId), page);
}

export function findDictionary(executor: Db, category: string) {
  return executor
    .selectFrom('firs_dictionary')
    .selectAll()
    .where('category', '=', category)
    .executeTakeFirst();
}

export function upsertDictionary(trx: Db, category: string, entries: unknown, at: Date) {
  return trx
    .insertInto('firs_dictionary')
    .values({ category, entries: json(entries), updated_at: at })
    .onConflict((oc) => oc.column('category').doUpdateSet({ entries: json(entries), updated_at: at }))
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Keys that authenticate now (neither revoked nor expired). */
export async function countLiveKeys(executor: Db, tenantId: string, at: Date): Promise<number> {
  const row = await executor
    .selectFrom('api_keys')
    .select((eb) => eb.fn.countAll<string>().as('count'))
    .where('tenant_id', '=', tenantId)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', at)
    .executeTakeFirstOrThrow();
  return Number(row.count);
}
