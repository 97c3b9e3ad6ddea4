import { AppError } from '../errors.js';
import type { RateLimitPolicy, RateLimitResult } from './limiter.js';

/** 429: a window is full. Carries what the response headers need. */
export class RateLimitedError extends AppError {
  constructor(
    readonly policy: RateLimitPolicy,
    readonly result: RateLimitResult,
    detail = 'Too many requests; retry after the time in Retry-After.',
  ) {
    super('rate_limited', detail);
    this.name = 'RateLimitedError';
  }
}
