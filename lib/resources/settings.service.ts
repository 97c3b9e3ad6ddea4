import { recordAudit } from '../audit/audit.repository.js';
import type { Actor } from '../auth/caller.js';
import type { DataCipher } from '../crypto/data-cipher.js';
import type { Db } from '../db/database.js';
import type { JsonValue } from '../db/tables.js';
import { lastFour, secretContext } from './masking.js';
import {
  type BusinessSettingsValues,
  findBusinessSettings,
  findFirsCredentials,
  upsertBusinessSettings,
  upsertFirsCredentials,
} from './settings.repository.js';

export interface Change {
  readonly db: Db;
  readonly actor: Actor;
  readonly tenantId: string;
  readonly at: Date;
}

/** Replaces the business settings; the audit event names the fields that changed (not their values). */
export function saveBusinessSettings(change: Change, values: BusinessSettingsValues) {
  return change.db.transaction().execute(async (trx) => {
    const before = await findBusinessSettings(trx, change.tenantId);
    const row = await upsertBusinessSettings(trx, change.tenantId, values, change.at);
    const changed = (Object.keys(values) as (keyof BusinessSettingsValues)[]).filter(
      (field) => JSON.stringify(before?.[field] ?? null) !== JSON.stringify(row[field] ?? null),
    );
    await recordAudit(
      trx,
      change.actor,
      {
        tenantId: change.tenantId,
        action: 'settings.business_updated',
        target: { type: 'tenant', id: change.tenantId },
        metadata: { fields: changed as JsonValue },
      },
      change.at,
    );
    return row;
  });
}

export interface FirsCredentialsInput {
  readonly client_id: string;
  readonly client_secret: string;
  readonly api_key?: string | undefined;
}

/** Stores the FIRS credentials encrypted (bound to the tenant); only their last 4 characters stay readable. */
export function saveFirsCredentials(change: Change, cipher: DataCipher, input: FirsCredentialsInput) {
  const { tenantId } = change;
  return change.db.transaction().execute(async (trx) => {
    const existed = (await findFirsCredentials(trx, tenantId)) !== undefined;
    const row = await upsertFirsCredentials(
      trx,
      tenantId,
      {
        client_id: input.client_id,
        client_secret_enc: cipher.encrypt(input.client_secret, secretContext('firs.client_secret', tenantId)),
        client_secret_last4: lastFour(input.client_secret),
        api_key_enc:
          input.api_key === undefined
            ? null
            : cipher.encrypt(input.api_key, secretContext('firs.api_key', tenantId)),
        api_key_last4: input.api_key === undefined ? null : lastFour(input.api_key),
      },
      change.at,
    );
    await recordAudit(
      trx,
      change.actor,
      {
        tenantId,
        action: 'settings.firs_credentials_updated',
        target: { type: 'tenant', id: tenantId },
        metadata: { replaced: existed, key_id: cipher.currentKeyId },
      },
      change.at,
    );
    return row;
  });
}
