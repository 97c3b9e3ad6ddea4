import { type Duration, Ratelimit } from '@upstash/ratelimit';
import { Redis } from '@upstash/redis';
import {
  assertCost,
  type RateLimiter,
  RateLimiterUnavailableError,
  type RateLimitPolicy,
  type RateLimitResult,
} from './limiter.js';

export interface UpstashLimiterOptions {
  readonly url: string;
  readonly token: string;
  /** Namespaces every key: `<prefix>:rl:<policy>:<identifier>:<window number>`. */
  readonly prefix: string;
  /** Budget for one REST call to Redis, retries included, before the limiter reports itself unavailable. */
  readonly requestTimeoutMs?: number;
}

/** Upstash answers in tens of milliseconds; past this, answering 503 beats holding the request. */
const DEFAULT_REQUEST_TIMEOUT_MS = 1500;

/**
 * Fail closed. @upstash/ratelimit's own `timeout` (default 5 s) resolves a slow call as *allowed*, so it is
 * turned off (`timeout: 0` skips its race entirely); a Redis error then rejects `limit()`, and every error
 * becomes RateLimiterUnavailableError. @upstash/redis has no request timeout of its own and retries network
 * errors five times with exponential backoff (~4 s), so it gets a per-request abort signal (a function, so
 * that an abort throws instead of being turned into a fake "Aborted" result) and a single quick retry.
 */
export function createUpstashLimiter(opts: UpstashLimiterOptions): RateLimiter {
  const timeoutMs = opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const redis = new Redis({
    url: opts.url,
    token: opts.token,
    retry: { retries: 1, backoff: () => 50 },
    signal: () => AbortSignal.timeout(timeoutMs),
    enableTelemetry: false,
  });
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
        return (await redis.ping()) === 'PONG';
      } catch {
        return false;
      }
    },
  };
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

async function orUnavailable<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw new RateLimiterUnavailableError(error);
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
function keySafe(part: string): string {
  return part.replace(/[%:*?[\]\\]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
