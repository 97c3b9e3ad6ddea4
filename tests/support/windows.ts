/**
 * Rate-limit windows are fixed 15-minute windows of real time (the in-process limiter and Redis both
 * read the wall clock), aligned to the Unix epoch. A test that fills a window must not straddle two.
 */
export const WINDOW_SECONDS = 900;

/** Seconds left in the current window. */
export function secondsLeftInWindow(nowMs = Date.now(), windowSeconds = WINDOW_SECONDS): number {
  const size = windowSeconds * 1000;
  return (size - (nowMs % size)) / 1000;
}

/** Unix seconds at which the current window ends (what X-RateLimit-Reset reports). */
export function windowEndSeconds(nowMs = Date.now(), windowSeconds = WINDOW_SECONDS): number {
  return (Math.floor(nowMs / (windowSeconds * 1000)) + 1) * windowSeconds;
}

/**
 * Waits for the next window when fewer than `needSeconds` remain in this one, so a test that must count
 * in one window (an exact number let through) runs whole. Skipping instead left a run near a window's
 * end (20 of 2,378 tests in one CI run) without any test of the login limits.
 */
export async function awayFromWindowEnd(needSeconds = 20): Promise<void> {
  const left = secondsLeftInWindow();
  if (left < needSeconds) await new Promise((resolve) => setTimeout(resolve, (left + 0.5) * 1000));
}

let nextIp = 0;

/** A client IP no other test uses (198.18.0.0/15 is reserved for benchmarking). */
export function freshIp(): string {
  nextIp += 1;
  return `198.18.${(nextIp >> 8) & 255}.${nextIp & 255}`;
}
