import type { Selectable } from 'kysely';
import type { Db } from '../db/database.js';
import { newestFirst, type PageRequest } from '../db/pagination.js';
import type { Database, JsonValue } from '../db/tables.js';

export type ContractRow = Selectable<Database['contracts']>;
export type VaultRow = Selectable<Database['vaults']>;

export function insertContract(
  trx: Db,
  values: { tenantId: string; title: string; template: string; parties: JsonValue; at: Date },
) {
  return trx
    .insertInto('contracts')
    .values({
      tenant_id: values.tenantId,
      title: values.title,
      template: values.template,
      parties: JSON.stringify(values.parties) as unknown as JsonValue,
      created_at: values.at,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export function insertVault(
  trx: Db,
  values: { tenantId: string; contractId: string | null; name: string; at: Date },
) {
  return trx
    .insertInto('vaults')
    .values({
      tenant_id: values.tenantId,
      contract_id: values.contractId,
      name: values.name,
      created_at: values.at,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export function listContracts(executor: Db, tenantId: string, page: PageRequest) {
  return newestFirst(executor.selectFrom('contracts').selectAll().where('tenant_id', '=', tenantId), page);
}

export function listVaults(executor: Db, tenantId: string, page: PageRequest) {
  return newestFirst(executor.selectFrom('vaults').selectAll().where('tenant_id', '=', tenantId), page);
}

export function findContract(executor: Db, tenantId: string, id: string) {
  return executor
    .selectFrom('contracts')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('id', '=', id)
    .executeTakeFirst();
}

export function findVault(executor: Db, tenantId: string, id: string) {
  return executor
    .selectFrom('vaults')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('id', '=', id)
    .executeTakeFirst();
}

export async function findContractTenant(executor: Db, id: string): Promise<string | undefined> {
  const row = await executor
    .selectFrom('contracts')
    .select('tenant_id')
    .where('id', '=', id)
    .executeTakeFirst();
  return row?.tenant_id;
}

export async function findVaultTenant(executor: Db, id: string): Promise<string | undefined> {
  const row = await executor.selectFrom('vaults').select('tenant_id').where('id', '=', id).executeTakeFirst();
  return row?.tenant_id;
}

/** The vault of each of these contracts (one query for a whole page). */
export async function vaultIdsOf(executor: Db, tenantId: string, contractIds: readonly string[]) {
  if (contractIds.length === 0) return new Map<string, string>();
  const rows = await executor
    .selectFrom('vaults')
    .select(['id', 'contract_id'])
    .where('tenant_id', '=', tenantId)
    .where('contract_id', 'in', [...contractIds])
    .execute();
  return new Map(rows.flatMap((row) => (row.contract_id ? [[row.contract_id, row.id] as const] : [])));
}
