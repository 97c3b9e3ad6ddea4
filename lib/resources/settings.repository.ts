import type { Selectable } from 'kysely';
import type { Db } from '../db/database.js';
import type { Database, JsonValue } from '../db/tables.js';

export type BusinessSettingsRow = Selectable<Database['business_settings']>;
export type FirsCredentialsRow = Selectable<Database['firs_credentials']>;
export type FirsConnectionRow = Selectable<Database['firs_connections']>;

export function findBusinessSettings(executor: Db, tenantId: string) {
  return executor
    .selectFrom('business_settings')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .executeTakeFirst();
}

export interface BusinessSettingsValues {
  readonly legal_name: string;
  readonly trade_name: string | null;
  readonly tin: string;
  readonly email: string;
  readonly phone: string | null;
  readonly address: JsonValue | null;
}

/** Inserts or replaces the tenant's settings in one statement. */
export function upsertBusinessSettings(trx: Db, tenantId: string, values: BusinessSettingsValues, at: Date) {
  const row = {
    ...values,
    address: values.address === null ? null : (JSON.stringify(values.address) as never),
  };
  return trx
    .insertInto('business_settings')
    .values({ tenant_id: tenantId, ...row, created_at: at, updated_at: at })
    .onConflict((oc) => oc.column('tenant_id').doUpdateSet({ ...row, updated_at: at }))
    .returningAll()
    .executeTakeFirstOrThrow();
}

export function findFirsCredentials(executor: Db, tenantId: string) {
  return executor
    .selectFrom('firs_credentials')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .executeTakeFirst();
}

export interface FirsCredentialValues {
  readonly client_id: string;
  readonly client_secret_enc: string;
  readonly client_secret_last4: string;
  readonly api_key_enc: string | null;
  readonly api_key_last4: string | null;
}

export function upsertFirsCredentials(trx: Db, tenantId: string, values: FirsCredentialValues, at: Date) {
  return trx
    .insertInto('firs_credentials')
    .values({ tenant_id: tenantId, ...values, created_at: at, updated_at: at })
    .onConflict((oc) => oc.column('tenant_id').doUpdateSet({ ...values, updated_at: at }))
    .returningAll()
    .executeTakeFirstOrThrow();
}

export function findFirsConnection(executor: Db, tenantId: string) {
  return executor
    .selectFrom('firs_connections')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .executeTakeFirst();
}

export interface FirsConnectionValues {
  readonly access_token_enc: string;
  readonly refresh_token_enc: string | null;
  readonly expires_at: Date | null;
}

export function upsertFirsConnection(trx: Db, tenantId: string, values: FirsConnectionValues, at: Date) {
  return trx
    .insertInto('firs_connections')
    .values({ tenant_id: tenantId, ...values, created_at: at, updated_at: at })
    .onConflict((oc) => oc.column('tenant_id').doUpdateSet({ ...values, updated_at: at }))
    .returningAll()
    .executeTakeFirstOrThrow();
}
