import type { Redis } from '@upstash/redis';
import { RATE_WINDOW_SECONDS } from '../vocabulary.js';
import { RateLimiterUnavailableError, windowStart } from './limiter.js';
import { keySafe, withinRateLimitBudget } from './upstash.js';

/**
 * Revocation signals, and usage counters for API keys, kept in the limiter's store (Redis; in memory in
 * the embedded mode). See docs/decisions/0027-key-cache-and-revocation-signal.md and 0043.
 *
 * A signal is named after what a cached record rests on: an API key's by the hash of the presented
 * secret, a person's logins by `personSignal(userId)`. Its version is that name's counter (bumped by every
 * revoke, rotation and scope or allow-list change of the key the secret names; by every change of the
 * person's account or logins) and the tenants' epoch (bumped by every change of a tenant). A cached
 * record is trusted only while the version read with the request equals the one read BEFORE the
 * record was loaded from Postgres: writers commit first and bump after, so any change the record
 * missed has moved the version.
 */
export interface Signals {
  /** The current version of a signal (cold path: read before the database lookup; a person's: every request). */
  read(signal: string): Promise<string>;
  /**
   * A key's version, and one request counted in the key's usage for the window containing `at`, and
   * the client address noted among the key's addresses (`newAddress`: seen for the first time, by a key
   * that had been used from others). Issue it in the same tick as the key's limiter call: both then
   * travel in one round trip.
   */
  touch(hash: string, keyId: string, at: number, address: string): Promise<Touched>;
  /** After a committed change: a key's secrets' hashes (current and previous), or a person's signal. */
  bump(signals: readonly string[]): Promise<void>;
  /** After a committed change of a tenant: every cached key and login re-verifies once. */
  bumpTenants(): Promise<void>;
  /** Requests counted per window start (Unix ms) for windows starting in [from, to]. */
  usage(keyId: string, from: number, to: number): Promise<Map<number, number>>;
}

/** The signal of a person's logins: no key hash (64 hex digits) has this form. */
export const personSignal = (userId: string) => `user:${userId}`;

export interface Touched {
  readonly versions: string;
  readonly newAddress: boolean;
}

/** Addresses remembered per key (past it, new ones are no longer flagged: a key used from everywhere). */
const MAX_ADDRESSES = 1_000;
const ADDRESS_TTL_SECONDS = 30 * 24 * 3600;

/** Usage is kept for a day and a window beyond it (API.md: the last 24 hours). */
const USAGE_TTL_SECONDS = 25 * 3600;
/** A bumped version outlives any cache entry by far (the key cache's TTL is seconds). */
const VERSION_TTL_SECONDS = 24 * 3600;
const WINDOW_MS = RATE_WINDOW_SECONDS * 1000;
const QUIET_AFTER_FAILURE_MS = 1_000;

const windowNumber = (at: number) => Math.floor(windowStart(at, RATE_WINDOW_SECONDS) / WINDOW_MS);

/**
 * Counts the request, notes the address and reads both versions, atomically, as one command. The
 * answer is three integers (the two versions, INCR counters, and 1 for a new address): @upstash/redis
 * tries `JSON.parse` on every reply value and falls back on a throw, so a reply such as "3:0" cost an
 * exception per request. Sent by its SHA-1 (EVALSHA; EVAL once after Redis has forgotten it), as
 * @upstash/ratelimit sends its own: the text would travel, be parsed and be hashed on every request.
 */
const TOUCH_SCRIPT = `
redis.call('HINCRBY', KEYS[3], ARGV[1], 1)
redis.call('EXPIRE', KEYS[3], ARGV[2])
local known = redis.call('SCARD', KEYS[4])
local added = 0
if known < tonumber(ARGV[4]) then added = redis.call('SADD', KEYS[4], ARGV[3]) end
redis.call('EXPIRE', KEYS[4], ARGV[5])
local fresh = 0
if added == 1 and known > 0 then fresh = 1 end
return { tonumber(redis.call('GET', KEYS[1]) or '0'), tonumber(redis.call('GET', KEYS[2]) or '0'), fresh }
`;

export function createRedisSignals(redis: Redis, prefix: string, timeoutMs: number): Signals {
  const signalKey = (name: string) => `${prefix}:sig:h:${keySafe(name)}`;
  const tenantsKey = `${prefix}:sig:tenants`;
  const usageKey = (keyId: string) => `${prefix}:use:${keySafe(keyId)}`;
  const touchScript = redis.createScript<[number, number, number]>(TOUCH_SCRIPT);
  // After a failure, cold lookups stop waiting for the store for a moment: their version is only a
  // baseline for caching, and without one the record is simply not cached (Postgres decides).
  let quietUntil = 0;
  const within = <T>(call: () => Promise<T>) =>
    withinRateLimitBudget(call, timeoutMs).catch((error: unknown) => {
      quietUntil = Date.now() + QUIET_AFTER_FAILURE_MS;
      throw error;
    });
  return {
    async read(name) {
      if (Date.now() < quietUntil) throw new RateLimiterUnavailableError('recently unavailable');
      const [own, tenants] = await within(() =>
        redis.mget<(string | number | null)[]>(signalKey(name), tenantsKey),
      );
      return `${own ?? 0}:${tenants ?? 0}`;
    },
    touch(hash, keyId, at, address) {
      // Called synchronously (no await first) so that it joins the limiter call's pipeline.
      return within(() =>
        touchScript.exec(
          [signalKey(hash), tenantsKey, usageKey(keyId), `${prefix}:ips:${keySafe(keyId)}`],
          [
            String(windowNumber(at)),
            String(USAGE_TTL_SECONDS),
            address,
            String(MAX_ADDRESSES),
            String(ADDRESS_TTL_SECONDS),
          ],
        ),
      ).then(touched);
    },
    async bump(names) {
      await within(() =>
        Promise.all(
          names.flatMap((name) => [
            redis.incr(signalKey(name)),
            redis.expire(signalKey(name), VERSION_TTL_SECONDS),
          ]),
        ),
      );
    },
    async bumpTenants() {
      await within(() => redis.incr(tenantsKey));
    },
    async usage(keyId, from, to) {
      const all = await within(() => redis.hgetall<Record<string, string | number>>(usageKey(keyId)));
      return windowsBetween(
        Object.entries(all ?? {}).map(([window, count]) => [Number(window) * WINDOW_MS, Number(count)]),
        from,
        to,
      );
    },
  };
}

/** The embedded mode's equivalent: one process, one map. */
export function createMemorySignals(): Signals {
  const versions = new Map<string, number>();
  let tenants = 0;
  const usage = new Map<string, Map<number, number>>();
  const addresses = new Map<string, Set<string>>();
  const version = (name: string) => `${versions.get(name) ?? 0}:${tenants}`;
  return {
    async read(name) {
      return version(name);
    },
    async touch(hash, keyId, at, address) {
      const seen = mapEntry(addresses, keyId, () => new Set<string>());
      const known = seen.size;
      const added = known < MAX_ADDRESSES && !seen.has(address);
      if (added) seen.add(address);
      const windows = mapEntry(usage, keyId, () => new Map<number, number>());
      const start = windowStart(at, RATE_WINDOW_SECONDS);
      const count = windows.get(start);
      if (count === undefined) {
        windows.set(start, 1);
        // A new window: forget those older than the day the usage report covers.
        for (const key of windows.keys()) if (key < start - USAGE_TTL_SECONDS * 1000) windows.delete(key);
      } else windows.set(start, count + 1);
      return { versions: version(hash), newAddress: added && known > 0 };
    },
    async bump(names) {
      for (const name of names) versions.set(name, (versions.get(name) ?? 0) + 1);
    },
    async bumpTenants() {
      tenants += 1;
    },
    async usage(keyId, from, to) {
      return windowsBetween([...(usage.get(keyId) ?? new Map<number, number>())], from, to);
    },
  };
}

/** The value under `key`, made and stored first when there is none. */
function mapEntry<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let value = map.get(key);
  if (value === undefined) {
    value = make();
    map.set(key, value);
  }
  return value;
}

function windowsBetween(entries: Iterable<[number, number]>, from: number, to: number): Map<number, number> {
  const result = new Map<number, number>();
  for (const [start, count] of entries) if (start >= from && start <= to) result.set(start, count);
  return result;
}

function touched(reply: unknown): Touched {
  const [own, tenants, fresh] = reply as [number, number, number];
  // The same form as read()'s: `<key's version>:<tenants' epoch>`.
  return { versions: `${own}:${tenants}`, newAddress: fresh === 1 };
}
