/**
 * Rate-limit windows are fixed 15-minute windows of real time (the in-process limiter and Redis both
 * read the wall clock), aligned to the Unix epoch. A test that fills a window must not straddle two.
 */
import type { TestContext } from 'node:test';

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
 * Skips the test (with the reason) when fewer than `needSeconds` remain in the window: its counters
 * would start again half-way through. Returns true when skipped; the test should then return.
 */
export function skipNearWindowEnd(t: TestContext, needSeconds = 20): boolean {
  const left = secondsLeftInWindow();
  if (left >= needSeconds) return false;
  t.skip(`only ${left.toFixed(1)} s left in the 15-minute rate-limit window (need ${needSeconds} s)`);
  return true;
}

/**
 * Waits for the next window when fewer than `needSeconds` remain in this one, so a test that must count
 * in one window (an exact number let through) runs whole, instead of being skipped.
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
