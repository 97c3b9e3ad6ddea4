import type { RateLimitPolicy, RateLimitResult } from './limiter.js';

/**
 * What domain services need from the request's rate limiting: count against a policy, or check one
 * without counting. Both refuse with RateLimitedError (429) and feed the response's headers.
 */
export interface Throttle {
  rateLimit(policy: RateLimitPolicy, identifier: string, cost?: number): Promise<RateLimitResult>;
  checkRateLimit(policy: RateLimitPolicy, identifier: string): Promise<RateLimitResult>;
}
