import type { KeyStatus } from '../vocabulary.js';

interface KeyTimes {
  readonly revoked_at: Date | null;
  readonly expires_at: Date;
  readonly previous_expires_at: Date | null;
}

/**
 * A key's status at `at`, derived from its timestamps (so it can never be stale): revoked, expired,
 * rotating (a previous secret is still in its grace period), else active.
 */
export function keyStatus(key: KeyTimes, at: Date): KeyStatus {
  if (key.revoked_at) return 'revoked';
  if (key.expires_at <= at) return 'expired';
  if (key.previous_expires_at && key.previous_expires_at > at) return 'rotating';
  return 'active';
}
