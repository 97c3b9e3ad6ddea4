/**
 * Verified records, per instance: API keys by the hash of the secret that found them
 * (lib/keys/key-cache.ts), logins by their session id (lib/identity/session-cache.ts). A bounded LRU
 * with a TTL. An entry carries the signal version read BEFORE its record was loaded
 * (lib/ratelimit/signals.ts); the request pipeline compares it with the version that comes back with
 * the caller's rate-limit call and drops the entry when they differ. The TTL only bounds what a lost
 * signal (Redis down while a record changed) can cost. Refusals are never cached: a guess costs a
 * lookup, and counts against its address.
 */
export const VERIFIED_CACHE_MAX_ENTRIES = 10_000;
export const VERIFIED_CACHE_TTL_MS = 30_000;

interface Entry<T> {
  readonly record: T;
  readonly versions: string;
  readonly until: number;
}

export class VerifiedCache<T> {
  readonly #entries = new Map<string, Entry<T>>();
  constructor(
    readonly maxEntries = VERIFIED_CACHE_MAX_ENTRIES,
    readonly ttlMs = VERIFIED_CACHE_TTL_MS,
  ) {}

  get size(): number {
    return this.#entries.size;
  }

  get(id: string, at: number): Entry<T> | undefined {
    const entry = this.#entries.get(id);
    if (!entry) return undefined;
    this.#entries.delete(id);
    if (entry.until <= at) return undefined;
    this.#entries.set(id, entry); // most recently used last
    return entry;
  }

  set(id: string, record: T, versions: string, at: number): void {
    this.#entries.delete(id);
    this.#entries.set(id, { record, versions, until: at + this.ttlMs });
    while (this.#entries.size > this.maxEntries) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
  }

  delete(id: string): void {
    this.#entries.delete(id);
  }

  /** Drops every entry whose record `matches` (a scan: for rare changes, such as a person's logout). */
  deleteWhere(matches: (record: T) => boolean): void {
    for (const [id, entry] of this.#entries) if (matches(entry.record)) this.#entries.delete(id);
  }
}

/** What a cached verification was based on: the caller's rate-limit call must confirm it. */
export interface Freshness {
  /** The name of the signal the record's version is read from (lib/ratelimit/signals.ts). */
  readonly signal: string;
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
