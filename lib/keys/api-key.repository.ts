import type { Selectable } from 'kysely';
import type { Db } from '../db/database.js';
import { newestFirst, type PageRequest } from '../db/pagination.js';
import type { Database } from '../db/tables.js';
import type { ActorType, KeyStatus, Scope, Tier } from '../vocabulary.js';

export type ApiKeyRow = Selectable<Database['api_keys']>;

/**
 * Locks the tenant's row for the rest of the transaction: every change to a tenant's set of keys
 * takes this lock first, so the count of active keys cannot change between counting and inserting.
 */
export async function lockTenantForKeys(trx: Db, tenantId: string) {
  return trx
    .selectFrom('tenants')
    .select(['id', 'status', 'max_tier'])
    .where('id', '=', tenantId)
    .forUpdate()
    .executeTakeFirst();
}

export async function findTenantMaxTier(executor: Db, tenantId: string): Promise<Tier | undefined> {
  const row = await executor
    .selectFrom('tenants')
    .select('max_tier')
    .where('id', '=', tenantId)
    .executeTakeFirst();
  return row?.max_tier;
}

/** Keys that authenticate now: neither revoked nor expired (rotating ones included). */
export async function countActiveKeys(executor: Db, tenantId: string, at: Date): Promise<number> {
  const row = await executor
    .selectFrom('api_keys')
    .select((eb) => eb.fn.countAll<string>().as('count'))
    .where('tenant_id', '=', tenantId)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', at)
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

export interface NewApiKey {
  readonly tenantId: string;
  readonly name: string;
  readonly tier: Tier;
  readonly scopes: readonly Scope[];
  readonly ipWhitelist: readonly string[];
  readonly prefix: string;
  readonly last4: string;
  readonly keyHash: string;
  readonly createdBy: { readonly type: ActorType; readonly id: string | null };
  readonly expiresAt: Date;
  readonly at: Date;
}

export async function insertApiKey(trx: Db, key: NewApiKey): Promise<ApiKeyRow> {
  return trx
    .insertInto('api_keys')
    .values({
      tenant_id: key.tenantId,
      name: key.name,
      tier: key.tier,
      scopes: [...key.scopes],
      ip_whitelist: [...key.ipWhitelist],
      prefix: key.prefix,
      last4: key.last4,
      key_hash: key.keyHash,
      created_by_type: key.createdBy.type,
      created_by: key.createdBy.id,
      created_at: key.at,
      updated_at: key.at,
      expires_at: key.expiresAt,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** A key of this tenant (another tenant's key is not found, exactly like a missing one). */
export async function findApiKey(
  executor: Db,
  tenantId: string,
  id: string,
  lock = false,
): Promise<ApiKeyRow | undefined> {
  const query = executor
    .selectFrom('api_keys')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('id', '=', id);
  return (lock ? query.forUpdate() : query).executeTakeFirst();
}

/** The tenant that owns a key: how the pipeline resolves `/v1/api-keys/{id}` (endpoint `tenant`). */
export async function findApiKeyTenant(executor: Db, id: string): Promise<string | undefined> {
  const row = await executor
    .selectFrom('api_keys')
    .select('tenant_id')
    .where('id', '=', id)
    .executeTakeFirst();
  return row?.tenant_id;
}

/** A page of the tenant's keys, newest first, optionally of one status at `at`. */
export function listApiKeys(
  executor: Db,
  tenantId: string,
  page: PageRequest,
  status: KeyStatus | undefined,
  at: Date,
) {
  let query = executor.selectFrom('api_keys').selectAll().where('tenant_id', '=', tenantId);
  // The same rules as keyStatus(), in SQL.
  if (status === 'revoked') query = query.where('revoked_at', 'is not', null);
  else if (status) {
    query = query.where('revoked_at', 'is', null);
    if (status === 'expired') query = query.where('expires_at', '<=', at);
    else {
      query = query.where('expires_at', '>', at);
      query =
        status === 'rotating'
          ? query.where('previous_expires_at', '>', at)
          : query.where((eb) =>
              eb.or([eb('previous_expires_at', 'is', null), eb('previous_expires_at', '<=', at)]),
            );
    }
  }
  return newestFirst(query, page);
}

export async function updateApiKey(
  trx: Db,
  id: string,
  changes: { name?: string; scopes?: Scope[]; ip_whitelist?: string[] },
  at: Date,
): Promise<ApiKeyRow> {
  return trx
    .updateTable('api_keys')
    .set({ ...changes, updated_at: at })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

/**
 * Gives the key a new secret. The current one becomes the previous, valid until `previousExpiresAt`
 * (null: it ends now); whatever previous secret there was ends at once. Never more than two secrets.
 */
export async function replaceSecret(
  trx: Db,
  id: string,
  secret: { keyHash: string; last4: string; previousExpiresAt: Date | null },
  at: Date,
): Promise<ApiKeyRow> {
  return trx
    .updateTable('api_keys')
    .set((eb) => ({
      previous_key_hash: secret.previousExpiresAt ? eb.ref('key_hash') : null,
      previous_expires_at: secret.previousExpiresAt,
      key_hash: secret.keyHash,
      last4: secret.last4,
      rotated_at: at,
      updated_at: at,
    }))
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Revokes the key and ends any previous secret with it. */
export async function revokeApiKey(trx: Db, id: string, at: Date): Promise<ApiKeyRow> {
  return trx
    .updateTable('api_keys')
    .set({ revoked_at: at, previous_key_hash: null, previous_expires_at: null, updated_at: at })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

/**
 * The key a presented secret belongs to, with its tenant's status, in one round trip: its current
 * secret, or its previous one while that is in its grace period. Lookup by the hash of the full key
 * is the comparison: no secret material is compared in JavaScript.
 */
export type KeyRecord = NonNullable<Awaited<ReturnType<typeof findKeyBySecretHash>>>;

export async function findKeyBySecretHash(executor: Db, keyHash: string, at: Date) {
  return executor
    .selectFrom('api_keys')
    .innerJoin('tenants', 'tenants.id', 'api_keys.tenant_id')
    .select([
      'api_keys.id',
      'api_keys.tenant_id',
      'api_keys.tier',
      'api_keys.scopes',
      'api_keys.ip_whitelist',
      'api_keys.expires_at',
      'api_keys.revoked_at',
      // Which secret matched, and until when the previous one is valid: a cached record must keep
      // honouring the end of the grace period (lib/keys/verify.ts checks it on every use).
      'api_keys.key_hash',
      'api_keys.previous_expires_at',
      'tenants.status as tenant_status',
    ])
    .where((eb) =>
      eb.or([
        eb('api_keys.key_hash', '=', keyHash),
        eb.and([eb('api_keys.previous_key_hash', '=', keyHash), eb('api_keys.previous_expires_at', '>', at)]),
      ]),
    )
    .executeTakeFirst();
}
