import { AuthenticationError } from '../errors.js';
import type { Caller } from './caller.js';
import { constantTimeEqual, sha256Hex } from './secrets.js';

/**
 * Checks the admin key against every configured key (several, so a new one can be rolled out
 * before the old one is removed). Every configured key is compared, so the time taken does not
 * reveal which one matched or how many there are.
 */
export function verifyAdminKey(secret: string, adminKeys: readonly string[]): Caller {
  let matched: string | null = null;
  for (const key of adminKeys) {
    if (constantTimeEqual(secret, key)) matched = key;
  }
  if (matched === null) throw new AuthenticationError('invalid_admin_key');
  // A fingerprint identifies which admin key acted (audit, rate limit) without revealing it.
  return { kind: 'admin_key', keyId: `admin_${sha256Hex(matched).slice(0, 12)}` };
}
