import { recordAudit } from '../audit/audit.repository.js';
import type { Actor } from '../auth/caller.js';
import type { Db } from '../db/database.js';
import type { JsonValue } from '../db/tables.js';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../errors.js';
import { KEY_LIMITS, type Scope, type Tier, tierRank, tierRules } from '../vocabulary.js';
import {
  type ApiKeyRow,
  countActiveKeys,
  findApiKey,
  findTenantMaxTier,
  insertApiKey,
  lockTenantForKeys,
  replaceSecret,
  revokeApiKey,
  updateApiKey,
} from './api-key.repository.js';
import { generateApiKey, hashApiKey, keyPrefix } from './key-format.js';
import { keyStatus } from './key-status.js';

const DAY_MS = 24 * 3600 * 1000;
const HOUR_MS = 3600 * 1000;

/** Who acts, and when: what every key change needs for its checks and its audit event. */
export interface KeyActor {
  readonly db: Db;
  readonly actor: Actor;
  /** The admin key or an internal key with `admin`: not bound by the tenant's max_tier. */
  readonly admin: boolean;
  readonly at: Date;
  /**
   * Told the secret hashes a committed change affects (revoke, rotation, scopes, allow-list), after the
   * commit: caches of verified keys forget them (lib/keys/key-cache.ts keyChanged).
   */
  readonly onChange?: (hashes: readonly (string | null)[]) => Promise<void>;
}

/** Scopes outside the tier's list → 422 with `tier_not_allowed` on each offending entry. */
function assertScopesFitTier(tier: Tier, scopes: readonly Scope[]): void {
  const allowed: readonly Scope[] = tierRules[tier].scopes;
  const errors = scopes.flatMap((scope, index) =>
    allowed.includes(scope)
      ? []
      : [
          {
            path: `scopes.${index}`,
            message: `A ${tier} key may not carry the ${scope} scope.`,
            code: 'tier_not_allowed',
          },
        ],
  );
  if (errors.length > 0) throw new ValidationError(errors, 'Some scopes are not allowed for this tier.');
}

/**
 * Only admins issue or manage internal keys (one with `admin` stands for the admin key); a tenant's
 * people reach up to the tenant's max_tier.
 */
function assertTierReachable(who: KeyActor, tier: Tier, maxTier: Tier): void {
  if (who.admin) return;
  if (tier === 'internal')
    throw new ForbiddenError('tier_not_allowed', 'Only admins issue and manage internal keys.');
  if (tierRank(tier) > tierRank(maxTier)) {
    throw new ForbiddenError('tier_not_allowed', `This tenant's keys go up to the ${maxTier} tier.`);
  }
}

function audit(who: KeyActor, trx: Db, key: ApiKeyRow, action: string, metadata: Record<string, JsonValue>) {
  return recordAudit(
    trx,
    who.actor,
    { tenantId: key.tenant_id, action, target: { type: 'api_key', id: key.id }, metadata },
    who.at,
  );
}

export interface CreateKeyInput {
  readonly name: string;
  readonly tier: Tier;
  readonly scopes: readonly Scope[];
  readonly ipWhitelist?: readonly string[] | undefined;
  readonly expiresInDays?: number | undefined;
}

/**
 * Issues a key. The tenant's row is locked first, so that counting its active keys and inserting one
 * are atomic: concurrent creates cannot pass 100 between them. Returns the full key, shown once.
 */
export async function createKey(
  who: KeyActor,
  tenantId: string,
  input: CreateKeyInput,
): Promise<{ row: ApiKeyRow; secret: string }> {
  return who.db.transaction().execute(async (trx) => {
    const tenant = await lockTenantForKeys(trx, tenantId);
    if (!tenant) throw new NotFoundError();
    assertTierReachable(who, input.tier, tenant.max_tier);
    assertScopesFitTier(input.tier, input.scopes);
    if ((await countActiveKeys(trx, tenantId, who.at)) >= KEY_LIMITS.maxActivePerTenant) {
      throw new ConflictError(
        `A tenant holds at most ${KEY_LIMITS.maxActivePerTenant} active keys; revoke one first.`,
      );
    }
    const secret = generateApiKey(input.tier);
    const days = input.expiresInDays ?? KEY_LIMITS.expiresInDays.default;
    const row = await insertApiKey(trx, {
      tenantId,
      name: input.name,
      tier: input.tier,
      scopes: input.scopes,
      ipWhitelist: input.ipWhitelist ?? [],
      prefix: keyPrefix(input.tier),
      last4: secret.slice(-4),
      keyHash: hashApiKey(secret),
      createdBy: { type: who.actor.type, id: who.actor.id },
      expiresAt: new Date(who.at.getTime() + days * DAY_MS),
      at: who.at,
    });
    await audit(who, trx, row, 'api_key.created', {
      name: row.name,
      tier: row.tier,
      scopes: row.scopes,
      ip_whitelist: row.ip_whitelist,
      expires_at: row.expires_at.toISOString(),
    });
    return { row, secret };
  });
}

/** The key, locked for the change, after the checks every change of a key shares. */
async function keyForChange(who: KeyActor, trx: Db, tenantId: string, id: string): Promise<ApiKeyRow> {
  const key = await findApiKey(trx, tenantId, id, true);
  if (!key) throw new NotFoundError();
  if (!who.admin) {
    const maxTier = await findTenantMaxTier(trx, tenantId);
    assertTierReachable(who, key.tier, maxTier ?? 'public');
  }
  return key;
}

export async function changeKey(
  who: KeyActor,
  tenantId: string,
  id: string,
  changes: { name?: string | undefined; scopes?: Scope[] | undefined; ip_whitelist?: string[] | undefined },
): Promise<ApiKeyRow> {
  const row = await who.db.transaction().execute(async (trx) => {
    const key = await keyForChange(who, trx, tenantId, id);
    if (key.revoked_at) throw new ConflictError('A revoked key cannot change.');
    if (changes.scopes) assertScopesFitTier(key.tier, changes.scopes);
    const defined = Object.fromEntries(Object.entries(changes).filter(([, value]) => value !== undefined));
    const updated = await updateApiKey(trx, key.id, defined, who.at);
    const diff: Record<string, JsonValue> = {};
    for (const field of ['name', 'scopes', 'ip_whitelist'] as const) {
      if (changes[field] !== undefined && JSON.stringify(key[field]) !== JSON.stringify(updated[field])) {
        diff[field] = { from: key[field], to: updated[field] };
      }
    }
    await audit(who, trx, updated, 'api_key.updated', { changes: diff });
    return updated;
  });
  await who.onChange?.([row.key_hash, row.previous_key_hash]);
  return row;
}

/**
 * A new secret for the same key. The previous secret keeps working for the grace period, never past
 * the key's own expiry; a secret that was still in an earlier grace period ends now (never more than
 * two live secrets). The row lock serialises concurrent rotations of one key.
 */
export async function rotateKey(
  who: KeyActor,
  tenantId: string,
  id: string,
  gracePeriodHours: number = KEY_LIMITS.gracePeriodHours.default,
): Promise<{ row: ApiKeyRow; secret: string }> {
  const rotated = await who.db.transaction().execute(async (trx) => {
    const key = await keyForChange(who, trx, tenantId, id);
    const status = keyStatus(key, who.at);
    if (status === 'revoked' || status === 'expired') {
      throw new ConflictError(`A ${status} key cannot be rotated; create a new one.`);
    }
    const graceEnd = Math.min(who.at.getTime() + gracePeriodHours * HOUR_MS, key.expires_at.getTime());
    const previousExpiresAt = graceEnd > who.at.getTime() ? new Date(graceEnd) : null;
    const secret = generateApiKey(key.tier);
    const row = await replaceSecret(
      trx,
      key.id,
      { keyHash: hashApiKey(secret), last4: secret.slice(-4), previousExpiresAt },
      who.at,
    );
    await audit(who, trx, row, 'api_key.rotated', {
      grace_period_hours: gracePeriodHours,
      previous_secret_expires_at: previousExpiresAt?.toISOString() ?? null,
      // A rotation during a grace period ends the secret before the previous one at once.
      earlier_secret_ended: status === 'rotating',
    });
    return { row, secret, hashes: [key.key_hash, key.previous_key_hash] };
  });
  await who.onChange?.(rotated.hashes);
  return { row: rotated.row, secret: rotated.secret };
}

/** Revokes a key; its secrets stop working on the very next request. Revoking twice changes nothing. */
export async function revokeKey(who: KeyActor, tenantId: string, id: string): Promise<ApiKeyRow> {
  const revoked = await who.db.transaction().execute(async (trx) => {
    const key = await findApiKey(trx, tenantId, id, true);
    if (!key) throw new NotFoundError();
    if (key.revoked_at) return { row: key, hashes: [] };
    const row = await revokeApiKey(trx, key.id, who.at);
    await audit(who, trx, row, 'api_key.revoked', { name: row.name, tier: row.tier });
    return { row, hashes: [key.key_hash, key.previous_key_hash] };
  });
  if (revoked.hashes.length > 0) await who.onChange?.(revoked.hashes);
  return revoked.row;
}
