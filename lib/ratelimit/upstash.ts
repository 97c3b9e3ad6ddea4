import { type Duration, Ratelimit } from '@upstash/ratelimit';
import { Redis } from '@upstash/redis';
import {
  assertCost,
  DEFAULT_RATE_LIMIT_TIMEOUT_MS,
  type RateLimiter,
  RateLimiterUnavailableError,
  type RateLimitPolicy,
  type RateLimitResult,
} from './limiter.js';
import { createUpstashTransport } from './upstash-transport.js';

export interface UpstashLimiterOptions {
  readonly url: string;
  readonly token: string;
  /** Namespaces every key: `<prefix>:rl:<policy>:<identifier>:<window number>`. */
  readonly prefix: string;
  /** Budget for one limiter call, every REST request and retry included (DEFAULT_RATE_LIMIT_TIMEOUT_MS). */
  readonly timeoutMs?: number;
}

/**
 * Fail closed. @upstash/ratelimit's own `timeout` (default 5 s) resolves a slow call as *allowed*, so it is
 * turned off (`timeout: 0` skips its race entirely); a Redis error then rejects `limit()`, and every error
 * becomes RateLimiterUnavailableError. The client's transport (lib/ratelimit/upstash-transport.ts) bounds
 * each REST request, its single quick retry included, by the same budget. One limiter call may still
 * make several requests (EVALSHA, then EVAL after a Redis restart forgot the script; SCAN pages for a
 * reset), so each call also runs against one overall deadline: the budget bounds the call, not a request.
 */
export function createUpstashLimiter(opts: UpstashLimiterOptions, shared?: Redis): RateLimiter {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_RATE_LIMIT_TIMEOUT_MS;
  const orUnavailable = <T>(call: () => Promise<T>) => withinBudget(call, timeoutMs);
  const redis = shared ?? createUpstashRedis(opts);
  const ratelimitFor = ratelimitCache(redis, opts.prefix);

  return {
    kind: 'upstash',
    async limit(policy, identifier, cost = 1) {
      assertCost(cost);
      const res = await orUnavailable(() => ratelimitFor(policy).limit(keySafe(identifier), { rate: cost }));
      return toResult(res.success, res);
    },
    async peek(policy, identifier) {
      const res = await orUnavailable(() => ratelimitFor(policy).getRemaining(keySafe(identifier)));
      return toResult(res.remaining > 0, res);
    },
    async reset(policy, identifier) {
      await orUnavailable(() => ratelimitFor(policy).resetUsedTokens(keySafe(identifier)));
    },
    async ping() {
      try {
        return (await orUnavailable(() => redis.ping())) === 'PONG';
      } catch {
        return false;
      }
    },
  };
}

/**
 * The REST client the limiter and the key signals (lib/ratelimit/signals.ts) share, on a keep-alive
 * node:http(s) transport (lib/ratelimit/upstash-transport.ts, decisions 0032, 0037, 0039). The transport
 * sends every command issued in the same event-loop turn as ONE /pipeline request: the tier limit's
 * EVALSHA and the key's touch (EVALSHA too, decision 0041) travel together, so a warm key-authenticated request costs exactly
 * one round trip, and under load concurrent requests share one. The client's own auto-pipelining is
 * therefore off: it only built a Pipeline object per command tick (decision 0039).
 */
export function createUpstashRedis(opts: UpstashLimiterOptions): Redis {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_RATE_LIMIT_TIMEOUT_MS;
  return new Redis(createUpstashTransport({ url: opts.url, token: opts.token, timeoutMs }));
}

/** Runs one call against the limiter's deadline; any failure, the deadline included, is "unavailable". */
export function withinRateLimitBudget<T>(call: () => Promise<T>, budgetMs: number): Promise<T> {
  return withinBudget(call, budgetMs);
}

/** One Ratelimit per distinct policy: the algorithm (limit and window) is fixed at construction. */
function ratelimitCache(redis: Redis, prefix: string): (policy: RateLimitPolicy) => Ratelimit {
  const cache = new Map<string, Ratelimit>();
  return (policy) => {
    const cacheKey = JSON.stringify([policy.name, policy.limit, policy.windowSeconds]);
    let ratelimit = cache.get(cacheKey);
    if (!ratelimit) {
      ratelimit = new Ratelimit({
        redis,
        limiter: Ratelimit.fixedWindow(policy.limit, windowDuration(policy)),
        prefix: `${prefix}:rl:${keySafe(policy.name)}`,
        timeout: 0,
        // The ephemeral cache answers "blocked" from memory until the window ends, so peek/reset would lie.
        ephemeralCache: false,
        analytics: false,
        enableTelemetry: false,
      });
      cache.set(cacheKey, ratelimit);
    }
    return ratelimit;
  };
}

function windowDuration(policy: RateLimitPolicy): Duration {
  return `${policy.windowSeconds} s`;
}

/** Runs one limiter call against its deadline; any failure, the deadline included, is "unavailable". */
async function withinBudget<T>(call: () => Promise<T>, budgetMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${budgetMs} ms`)), budgetMs);
  });
  try {
    // The losing call is still settled by race's own handlers (no unhandled rejection), and its request
    // is aborted by the per-request signal soon after.
    return await Promise.race([call(), deadline]);
  } catch (error) {
    throw new RateLimiterUnavailableError(error);
  } finally {
    clearTimeout(timer);
  }
}

/** The library's `reset` is already Unix ms at the end of the epoch-aligned window: `(bucket + 1) * window`. */
function toResult(
  allowed: boolean,
  res: { limit: number; remaining: number; reset: number },
): RateLimitResult {
  return { allowed, limit: res.limit, remaining: Math.max(0, res.remaining), reset: res.reset };
}

/**
 * `resetUsedTokens` deletes whatever matches the glob `<prefix>:<identifier>:*`. Escaping glob characters
 * and the ':' separator keeps that pattern to this identifier's keys: unescaped, resetting `*` would wipe
 * every identifier's counters and resetting `a` would also wipe `a:b`'s. Escaping '%' keeps it one-to-one.
 */
export function keySafe(part: string): string {
  return part.replace(/[%:*?[\]\\]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
