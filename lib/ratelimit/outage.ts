import type { Logger } from '../log.js';
import { type RateLimiter, RateLimiterUnavailableError, type RateLimitPolicy } from './limiter.js';
import { createMemoryLimiter } from './memory.js';

/**
 * What the limiter does while its store (Redis) cannot answer, by policy (RATE_LIMIT_ON_OUTAGE):
 * - `policy` (default): each policy's own `onOutage` decides. Quotas (`open`) are counted by this
 *   instance's in-process limiter instead, so an outage of Redis is not an outage of every tenant
 *   integration; each instance then enforces the whole limit on its own, so N instances let up to N×
 *   through until Redis is back. Security throttles (`closed`, and any policy that does not say) fail
 *   with RateLimiterUnavailableError, which the pipeline answers 503 + Retry-After.
 * - `closed`: every policy fails closed, as before this setting existed.
 */
export type OutageMode = 'policy' | 'closed';

/** Falling open is logged, but at most once a minute per instance: an outage must not flood the logs. */
const LOG_INTERVAL_MS = 60_000;

export function withOutagePolicy(
  store: RateLimiter,
  opts: { mode: OutageMode; log: Logger; now?: () => number },
): RateLimiter {
  if (store.kind === 'memory') return store; // nothing to fall back from
  const now = opts.now ?? Date.now;
  const fallback = createMemoryLimiter({ now });
  let lastLogged = Number.NEGATIVE_INFINITY;
  const fallsOpen = (policy: RateLimitPolicy, error: unknown) =>
    opts.mode === 'policy' && policy.onOutage === 'open' && error instanceof RateLimiterUnavailableError;
  const noteFallback = (policy: RateLimitPolicy, error: unknown) => {
    const at = now();
    if (at - lastLogged < LOG_INTERVAL_MS) return;
    lastLogged = at;
    opts.log.warn('rate limiter store unavailable: quotas counted in this instance only', {
      policy: policy.name,
      error,
    });
  };
  return {
    kind: store.kind,
    // The store is called synchronously (no await before it), so calls issued in one tick still share
    // one round trip (lib/ratelimit/upstash.ts).
    limit(policy, identifier, cost) {
      return store.limit(policy, identifier, cost).catch((error: unknown) => {
        if (!fallsOpen(policy, error)) throw error;
        noteFallback(policy, error);
        return fallback.limit(policy, identifier, cost);
      });
    },
    peek(policy, identifier) {
      return store.peek(policy, identifier).catch((error: unknown) => {
        if (!fallsOpen(policy, error)) throw error;
        noteFallback(policy, error);
        return fallback.peek(policy, identifier);
      });
    },
    async reset(policy, identifier) {
      await fallback.reset(policy, identifier);
      await store.reset(policy, identifier);
    },
    ping: () => store.ping(),
  };
}
