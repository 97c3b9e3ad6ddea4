import type { Db } from '../db/database.js';
import type { Logger } from '../log.js';
import type { KeySignals } from '../ratelimit/signals.js';
import {
  checkKey,
  type KeyVerification,
  type LoadedKey,
  loadKey,
  MALFORMED_KEY,
  type VerifyOptions,
  wellFormedKeyHash,
} from './verify.js';

/**
 * Verified key records, per instance, by the hash of the secret that found them: a bounded LRU with a
 * TTL. An entry carries the signal version read BEFORE its record was loaded (lib/ratelimit/signals.ts);
 * the request pipeline compares it with the version that comes back with the rate-limit call and drops
 * the entry when they differ. The TTL only bounds what a lost signal (Redis down while a key changed)
 * can cost. Unknown hashes are never cached: a guess costs a lookup, and counts against its address.
 */
export const KEY_CACHE_MAX_ENTRIES = 10_000;
export const KEY_CACHE_TTL_MS = 30_000;

interface Entry {
  readonly key: LoadedKey;
  readonly versions: string;
  readonly until: number;
}

export class KeyCache {
  readonly #entries = new Map<string, Entry>();
  constructor(
    readonly maxEntries = KEY_CACHE_MAX_ENTRIES,
    readonly ttlMs = KEY_CACHE_TTL_MS,
  ) {}

  get size(): number {
    return this.#entries.size;
  }

  get(hash: string, at: number): Entry | undefined {
    const entry = this.#entries.get(hash);
    if (!entry) return undefined;
    this.#entries.delete(hash);
    if (entry.until <= at) return undefined;
    this.#entries.set(hash, entry); // most recently used last
    return entry;
  }

  set(hash: string, key: LoadedKey, versions: string, at: number): void {
    this.#entries.delete(hash);
    this.#entries.set(hash, { key, versions, until: at + this.ttlMs });
    while (this.#entries.size > this.maxEntries) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
  }

  delete(hash: string): void {
    this.#entries.delete(hash);
  }
}

/** What a cached verification was based on: the caller's rate-limit call must confirm it. */
export interface KeyFreshness {
  readonly hash: string;
  /** The version the record was loaded at; null when the signal could not be read (never trusted). */
  readonly versions: string | null;
  /** True when the record came from Postgres during this very request. */
  readonly loaded: boolean;
}

/**
 * Skip the cache: the pipeline asks for it when the signal says the cached record may be out of date;
 * `signal-down` when the signal could not be read just now, so the reload does not wait for it again.
 */
export type Reload = boolean | 'signal-down';

/**
 * verifyApiKey (the one verifier: wellFormedKeyHash → lookup → checkKey) with the instance cache
 * around its lookup. A hit runs no I/O and allocates little: this is the key check of every
 * key-authenticated request.
 */
export async function verifyApiKeyCached(
  deps: { db: Db; cache: KeyCache; signals: KeySignals },
  secret: string,
  options: VerifyOptions & { fresh?: Reload },
): Promise<{ verification: KeyVerification; freshness: KeyFreshness | null }> {
  const hash = wellFormedKeyHash(secret);
  if (hash === null) return { verification: MALFORMED_KEY, freshness: null };
  const hit = options.fresh ? undefined : deps.cache.get(hash, options.at.getTime());
  if (hit) {
    const verification = checkKey(hit.key, hash, options);
    // A refusal is never answered from the cache: the change that would lift it (reactivation, a wider
    // allow-list) must count from the next request, and refusals are not the path worth saving a query on.
    if (verification.valid)
      return { verification, freshness: { hash, versions: hit.versions, loaded: false } };
  }
  // The version first, then the record: a change committed after this read moves the version.
  const versions = options.fresh === 'signal-down' ? null : await deps.signals.read(hash).catch(() => null);
  const key = await loadKey(deps.db, hash, options.at);
  if (key && versions !== null) deps.cache.set(hash, key, versions, options.at.getTime());
  return { verification: checkKey(key, hash, options), freshness: { hash, versions, loaded: true } };
}

/**
 * After a committed change of a key (revoke, rotation, scopes, allow-list): this instance forgets it at
 * once and every other instance sees the signal move on its next request. A signal that cannot be
 * written (Redis down) is logged: other instances then hold the old record for at most the TTL.
 */
export async function keyChanged(
  deps: { keyCache: KeyCache; signals: KeySignals; log: Logger },
  hashes: readonly (string | null)[],
): Promise<void> {
  const present = hashes.filter((hash): hash is string => hash !== null);
  for (const hash of present) deps.keyCache.delete(hash);
  await deps.signals.bumpKeys(present).catch((error: unknown) => {
    deps.log.error('key change signal not written: other instances may use the old record until its TTL', {
      error,
    });
  });
}
