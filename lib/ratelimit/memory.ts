import {
  assertCost,
  type RateLimiter,
  type RateLimitPolicy,
  type RateLimitResult,
  windowStart,
} from './limiter.js';

/**
 * The in-process limiter for the embedded mode. It mirrors @upstash/ratelimit's fixedWindow exactly:
 * every call adds its cost to the window's counter, refused ones included (the Lua script INCRBYs
 * before comparing), and a call is allowed iff the counter after adding is ≤ the limit.
 */

/** Sweeping on every call would make each call O(counters); this bounds the leftovers instead. */
const SWEEP_INTERVAL_MS = 10_000;

interface WindowCounter {
  count: number;
  /** Unix ms at which this window ends and the counter becomes garbage. */
  readonly end: number;
}

/** Fixed-window counters keyed by policy name, identifier and window start. */
export class FixedWindowCounters {
  readonly #counters = new Map<string, WindowCounter>();
  #nextSweep = Number.NEGATIVE_INFINITY;

  /** Number of stored counters (for tests: it must not grow with windows that have ended). */
  get size(): number {
    return this.#counters.size;
  }

  used(policy: RateLimitPolicy, identifier: string, now: number): number {
    return this.#counters.get(counterKey(policy, identifier, now))?.count ?? 0;
  }

  add(policy: RateLimitPolicy, identifier: string, now: number, cost: number): number {
    this.#sweep(now);
    const key = counterKey(policy, identifier, now);
    let counter = this.#counters.get(key);
    if (!counter) {
      counter = { count: 0, end: windowEnd(now, policy) };
      this.#counters.set(key, counter);
    }
    counter.count += cost;
    return counter.count;
  }

  clear(policy: RateLimitPolicy, identifier: string, now: number): void {
    this.#counters.delete(counterKey(policy, identifier, now));
  }

  #sweep(now: number): void {
    if (now < this.#nextSweep) return;
    this.#nextSweep = now + SWEEP_INTERVAL_MS;
    for (const [key, counter] of this.#counters) {
      if (counter.end <= now) this.#counters.delete(key);
    }
  }
}

export function createMemoryLimiter(opts: { now?: () => number } = {}): RateLimiter {
  const now = opts.now ?? Date.now;
  const counters = new FixedWindowCounters();
  return {
    kind: 'memory',
    async limit(policy, identifier, cost = 1) {
      assertCost(cost);
      const at = now();
      const used = counters.add(policy, identifier, at, cost);
      return toResult(policy, used, used <= policy.limit, at);
    },
    async peek(policy, identifier) {
      const at = now();
      const used = counters.used(policy, identifier, at);
      return toResult(policy, used, used < policy.limit, at);
    },
    async reset(policy, identifier) {
      counters.clear(policy, identifier, now());
    },
    async ping() {
      return true;
    },
  };
}

function toResult(policy: RateLimitPolicy, used: number, allowed: boolean, at: number): RateLimitResult {
  return {
    allowed,
    limit: policy.limit,
    remaining: Math.max(0, policy.limit - used),
    reset: windowEnd(at, policy),
  };
}

function windowEnd(at: number, policy: RateLimitPolicy): number {
  return windowStart(at, policy.windowSeconds) + policy.windowSeconds * 1000;
}

/**
 * The identifier last: a policy name is one of ours (no spaces) and a window start is a number, so
 * whatever an identifier contains cannot make two keys collide.
 */
function counterKey(policy: RateLimitPolicy, identifier: string, at: number): string {
  return `${policy.name} ${windowStart(at, policy.windowSeconds)} ${identifier}`;
}
