import { type Freshness, type Reload, VerifiedCache } from '../auth/verified-cache.js';
import type { Db } from '../db/database.js';
import type { Logger } from '../log.js';
import type { Signals } from '../ratelimit/signals.js';
import {
  checkKey,
  type KeyVerification,
  type LoadedKey,
  loadKey,
  MALFORMED_KEY,
  type VerifyOptions,
  wellFormedKeyHash,
} from './verify.js';

/** The instance's verified key records, by the hash of the secret that found them. */
export class KeyCache extends VerifiedCache<LoadedKey> {}

/**
 * verifyApiKey (the one verifier: wellFormedKeyHash → lookup → checkKey) with the instance cache
 * around its lookup. A hit runs no I/O and allocates little: this is the key check of every
 * key-authenticated request.
 */
export async function verifyApiKeyCached(
  deps: { db: Db; cache: KeyCache; signals: Signals },
  secret: string,
  options: VerifyOptions & { fresh?: Reload },
): Promise<{ verification: KeyVerification; freshness: Freshness | null }> {
  const hash = wellFormedKeyHash(secret);
  if (hash === null) return { verification: MALFORMED_KEY, freshness: null };
  const hit = options.fresh ? undefined : deps.cache.get(hash, options.at.getTime());
  if (hit) {
    const verification = checkKey(hit.record, hash, options);
    // A refusal is never answered from the cache: the change that would lift it (reactivation, a wider
    // allow-list) must count from the next request, and refusals are not the path worth saving a query on.
    if (verification.valid)
      return { verification, freshness: { signal: hash, versions: hit.versions, loaded: false } };
  }
  // The version first, then the record: a change committed after this read moves the version.
  const versions = options.fresh === 'signal-down' ? null : await deps.signals.read(hash).catch(() => null);
  const key = await loadKey(deps.db, hash, options.at);
  if (key && versions !== null) deps.cache.set(hash, key, versions, options.at.getTime());
  return { verification: checkKey(key, hash, options), freshness: { signal: hash, versions, loaded: true } };
}

/**
 * After a committed change of a key (revoke, rotation, scopes, allow-list): this instance forgets it at
 * once and every other instance sees the signal move on its next request. A signal that cannot be
 * written (Redis down) is logged: other instances then hold the old record for at most the TTL.
 */
export async function keyChanged(
  deps: { keyCache: KeyCache; signals: Signals; log: Logger },
  hashes: readonly (string | null)[],
): Promise<void> {
  const present = hashes.filter((hash): hash is string => hash !== null);
  for (const hash of present) deps.keyCache.delete(hash);
  await deps.signals.bump(present).catch((error: unknown) => {
    deps.log.error('key change signal not written: other instances may use the old record until its TTL', {
      error,
    });
  });
}
