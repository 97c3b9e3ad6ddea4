/**
 * The one rate-limiter interface. Two implementations share its semantics exactly:
 * `upstash.ts` (@upstash/ratelimit on @upstash/redis — production, and tests through the REST bridge)
 * and `memory.ts` (in-process, for the embedded mode).
 *
 * Windows are fixed and aligned to the Unix epoch, so a 900-second window starts at :00, :15, :30
 * and :45 UTC. Both implementations must agree on that alignment.
 */
export interface RateLimitPolicy {
  /** Policy name: appears in the RateLimit-Policy header and namespaces the counters. */
  readonly name: string;
  readonly limit: number;
  readonly windowSeconds: number;
  /**
   * What a request meets when the limiter's store cannot answer (lib/ratelimit/outage.ts): `open` counts
   * it in this instance's memory instead (quotas: an outage of the store must not be an outage of every
   * integration), `closed` answers 503 (security throttles: guessing must never become free). Unset is
   * `closed`.
   */
  readonly onOutage?: 'open' | 'closed';
}

export interface RateLimitResult {
  /** Whether this request fits in the window (for `peek`: whether one more would). */
  readonly allowed: boolean;
  readonly limit: number;
  /** Requests left in the current window after this one (never negative). */
  readonly remaining: number;
  /** Unix milliseconds at which the current window ends. */
  readonly reset: number;
}

export interface RateLimiter {
  readonly kind: 'upstash' | 'memory';
  /** Counts `cost` (default 1) against the identifier's current window. */
  limit(policy: RateLimitPolicy, identifier: string, cost?: number): Promise<RateLimitResult>;
  /** The identifier's current state, without counting anything. */
  peek(policy: RateLimitPolicy, identifier: string): Promise<RateLimitResult>;
  /** Forgets the identifier's usage in the current window. */
  reset(policy: RateLimitPolicy, identifier: string): Promise<void>;
  /** True when the backing store answers (for /api/health). */
  ping(): Promise<boolean>;
}

/**
 * The one bound on a limiter call against its store, retries included: past it the call fails as
 * unavailable (a quota then falls back to memory, a throttle answers 503) rather than hold the request.
 * Upstash answers in single-digit to tens of milliseconds from the same region, so 300 ms is an outage,
 * not a slow moment, and it is all a request pays while the store is down. RATE_LIMIT_TIMEOUT_MS sets it.
 */
export const DEFAULT_RATE_LIMIT_TIMEOUT_MS = 300;

/** Thrown when the limiter's backing store cannot be reached; the HTTP layer answers 503. */
export class RateLimiterUnavailableError extends Error {
  constructor(cause?: unknown) {
    super('rate limiter unavailable', { cause });
    this.name = 'RateLimiterUnavailableError';
  }
}

/** Start (Unix ms) of the fixed window containing `nowMs`. */
export function windowStart(nowMs: number, windowSeconds: number): number {
  const size = windowSeconds * 1000;
  return Math.floor(nowMs / size) * size;
}

/**
 * Both implementations refuse the same costs: zero or negative costs would be free calls or refunds
 * (which @upstash/ratelimit allows), and fractions break Redis INCRBY. A bad cost is a bug, not an outage.
 */
export function assertCost(cost: number): void {
  if (!Number.isSafeInteger(cost) || cost < 1) {
    throw new RangeError(`rate limit cost must be a positive integer, got ${cost}`);
  }
}
