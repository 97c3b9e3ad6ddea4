import type { Db } from '../db/database.js';
import { AuthenticationError, ForbiddenError } from '../errors.js';
import type { Scope, Tier } from '../vocabulary.js';
import { findKeyBySecretHash, type KeyRecord } from './api-key.repository.js';
import { type AllowList, compileAllowList } from './ip-allow-list.js';
import { hashApiKey, parseApiKey } from './key-format.js';

/** Why a key is refused, with the codes of API.md §2 (401s first, then 403s). */
export type KeyRefusal =
  | 'invalid_api_key'
  | 'key_revoked'
  | 'key_expired'
  | 'tenant_suspended'
  | 'ip_not_allowed'
  | 'insufficient_scope';

export interface VerifiedKey {
  readonly id: string;
  readonly tenantId: string;
  readonly tier: Tier;
  readonly scopes: readonly Scope[];
  readonly expiresAt: Date;
}

export type KeyVerification =
  | { readonly valid: true; readonly key: VerifiedKey }
  /** `key` is the key the secret named, when it named one (never for invalid_api_key). */
  | {
      readonly valid: false;
      readonly code: KeyRefusal;
      readonly key: VerifiedKey | null;
      /** True when the shape or checksum alone refused it: nothing was looked up. */
      readonly malformed?: true;
    };

export interface VerifyOptions {
  readonly at: Date;
  /** The client IP; null when unknown, which no allow-list admits. */
  readonly ip: string | null;
  /** Scopes the key must carry (none: any key passes this step). */
  readonly scopes?: readonly Scope[];
}

/** A key's record as the checks use it: its allow-list parsed once, when the record is loaded. */
export interface LoadedKey {
  readonly record: KeyRecord;
  readonly allowList: AllowList;
}

/** The record a secret's hash names (current secret, or previous one in its grace), from Postgres. */
export async function loadKey(db: Db, hash: string, at: Date): Promise<LoadedKey | undefined> {
  const record = await findKeyBySecretHash(db, hash, at);
  return record && { record, allowList: compileAllowList(record.ip_whitelist) };
}

/** The scopes of `required` that `held` lacks. */
export function missingScopes(held: readonly Scope[], required: readonly Scope[]): Scope[] {
  return required.filter((scope) => !held.includes(scope));
}

/** A secret refused for its shape or checksum alone: nothing was looked up. */
export const MALFORMED_KEY: KeyVerification = {
  valid: false,
  code: 'invalid_api_key',
  key: null,
  malformed: true,
};

/**
 * The first step, without any I/O: the hash a secret is looked up by, or null when its shape or
 * checksum is wrong (then nothing is looked up).
 */
export function wellFormedKeyHash(secret: string): string | null {
  return parseApiKey(secret) ? hashApiKey(secret) : null;
}

/**
 * The checks of a loaded record, in API.md's order: the secret still valid (the current one, or the
 * previous one in its grace period) → revoked → expired → tenant suspended → IP allow-list →
 * scopes. A pure function of the record and its arguments, run on every call whatever the record's
 * source, so a cached record still expires, ends its grace period and meets the caller's IP on time.
 */
export function checkKey(
  loaded: LoadedKey | undefined,
  hash: string,
  options: VerifyOptions,
): KeyVerification {
  if (!loaded) return { valid: false, code: 'invalid_api_key', key: null };
  const row = loaded.record;
  // The previous secret only within its grace period (the SQL says so too; a cached record must as well).
  const graceOver = row.previous_expires_at === null || row.previous_expires_at <= options.at;
  if (row.key_hash !== hash && graceOver) return { valid: false, code: 'invalid_api_key', key: null };
  const key: VerifiedKey = {
    id: row.id,
    tenantId: row.tenant_id,
    tier: row.tier,
    scopes: row.scopes,
    expiresAt: row.expires_at,
  };
  const refuse = (code: KeyRefusal): KeyVerification => ({ valid: false, code, key });
  if (row.revoked_at) return refuse('key_revoked');
  if (row.expires_at <= options.at) return refuse('key_expired');
  if (row.tenant_status !== 'active') return refuse('tenant_suspended');
  if (!loaded.allowList.admits(options.ip)) return refuse('ip_not_allowed');
  if (options.scopes && missingScopes(row.scopes, options.scopes).length > 0)
    return refuse('insufficient_scope');
  return { valid: true, key };
}

/**
 * THE verification of an API key, used by `POST /v1/keys/verify` and, with the instance cache around
 * its lookup (lib/keys/key-cache.ts), by the request pipeline: shape and checksum (no I/O at all) →
 * lookup by hash → checkKey.
 */
export async function verifyApiKey(db: Db, secret: string, options: VerifyOptions): Promise<KeyVerification> {
  const hash = wellFormedKeyHash(secret);
  if (hash === null) return MALFORMED_KEY;
  return checkKey(await loadKey(db, hash, options.at), hash, options);
}

const DETAIL: Record<KeyRefusal, string> = {
  invalid_api_key: 'The API key is malformed or unknown.',
  key_revoked: 'The API key has been revoked.',
  key_expired: 'The API key has passed its expiry date.',
  tenant_suspended: 'The tenant has been suspended.',
  ip_not_allowed: "The client IP is not on the key's allow-list.",
  insufficient_scope: 'The API key does not carry the scope this endpoint needs.',
};

/**
 * A refusal as the error the request pipeline answers with (401 for the key itself, 403 otherwise).
 * A malformed key cost no lookup, so it is not counted against the IP's failure budget either.
 */
export function keyRefusalError(code: KeyRefusal, malformed = false): AuthenticationError | ForbiddenError {
  switch (code) {
    case 'invalid_api_key':
      return new AuthenticationError(code, DETAIL[code], !malformed);
    case 'key_revoked':
    case 'key_expired':
      return new AuthenticationError(code, DETAIL[code]);
    default:
      return new ForbiddenError(code, DETAIL[code]);
  }
}
