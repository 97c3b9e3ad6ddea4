import type { RateLimitPolicy, RateLimitResult } from '../ratelimit/limiter.js';

/**
 * The X-RateLimit-* headers and the IETF RateLimit fields (draft-ietf-httpapi-ratelimit-headers-11):
 * `RateLimit-Policy: "public";q=100;w=900` and `RateLimit: "public";r=99;t=840`.
 */
export function rateLimitHeaders(
  policy: RateLimitPolicy,
  result: RateLimitResult,
  nowMs: number,
): Record<string, string> {
  const secondsLeft = secondsUntilReset(result, nowMs);
  return {
    'x-ratelimit-limit': String(result.limit),
    'x-ratelimit-remaining': String(Math.max(0, result.remaining)),
    'x-ratelimit-reset': String(Math.ceil(result.reset / 1000)),
    'ratelimit-policy': `"${policy.name}";q=${policy.limit};w=${policy.windowSeconds}`,
    ratelimit: `"${policy.name}";r=${Math.max(0, result.remaining)};t=${secondsLeft}`,
  };
}

/** Whole seconds until the window ends, rounded up so Retry-After is never earlier than `t`. */
export function secondsUntilReset(result: RateLimitResult, nowMs: number): number {
  return Math.max(1, Math.ceil((result.reset - nowMs) / 1000));
}
