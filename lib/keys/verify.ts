import type { Db } from '../db/database.js';
import { AuthenticationError, ForbiddenError } from '../errors.js';
import type { Scope, Tier } from '../vocabulary.js';
import { findKeyBySecretHash, type KeyRecord } from './api-key.repository.js';
import { ipAllowed } from './ip-allow-list.js';
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
  /**
   * Where the record for a secret's hash comes from: Postgres by default; the request pipeline passes
   * its instance cache (lib/keys/key-cache.ts), which wraps this same lookup. Every check below runs
   * on every call whatever the source, so a cached record still expires, ends its grace period and
   * meets the caller's IP on time.
   */
  readonly lookup?: (hash: string, at: Date) => Promise<KeyRecord | undefined>;
}

/** The scopes of `required` that `held` lacks. */
export function missingScopes(held: readonly Scope[], required: readonly Scope[]): Scope[] {
  return required.filter((scope) => !held.includes(scope));
}

/**
 * THE verification of an API key, used by the request pipeline (lib/auth/authenticate.ts) and by
 * `POST /v1/keys/verify`, in API.md's order: shape and checksum (no I/O at all) → lookup by hash
 * (the current secret, or the previous one in its grace period) → revoked → expired → tenant
 * suspended → IP allow-list → scopes. A pure function of the record and its arguments: the
 * instance cache wraps only the lookup (options.lookup).
 */
export async function verifyApiKey(db: Db, secret: string, options: VerifyOptions): Promise<KeyVerification> {
  if (!parseApiKey(secret)) return { valid: false, code: 'invalid_api_key', key: null, malformed: true };
  const hash = hashApiKey(secret);
  const row = await (options.lookup ?? ((h, at) => findKeyBySecretHash(db, h, at)))(hash, options.at);
  // The previous secret only within its grace period (the SQL says so too; a cached record must as well).
  const graceOver = (end: Date | null) => end === null || end <= options.at;
  if (!row || (row.key_hash !== hash && graceOver(row.previous_expires_at))) {
    return { valid: false, code: 'invalid_api_key', key: null };
  }
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
  if (!ipAllowed(options.ip, row.ip_whitelist)) return refuse('ip_not_allowed');
  if (missingScopes(row.scopes, options.scopes ?? []).length > 0) return refuse('insufficient_scope');
  return { valid: true, key };
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
