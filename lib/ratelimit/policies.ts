import { RATE_WINDOW_SECONDS, TIERS, type Tier, tierRules } from '../vocabulary.js';
import type { RateLimitPolicy } from './limiter.js';

/**
 * Every limit of API.md §3, in one place. All windows are the fixed 15 minutes. Each declares what it
 * does while Redis is down (lib/ratelimit/outage.ts): a `quota` (a caller's allowance of work) fails
 * OPEN to the instance's in-process counter; a `throttle` (a brake on guessing and abuse) fails CLOSED
 * with 503 + Retry-After.
 */
const WINDOW = RATE_WINDOW_SECONDS;

const quota = (name: string, limit: number): RateLimitPolicy => ({
  name,
  limit,
  windowSeconds: WINDOW,
  onOutage: 'open',
});
const throttle = (name: string, limit: number): RateLimitPolicy => ({
  name,
  limit,
  windowSeconds: WINDOW,
  onOutage: 'closed',
});

export const policies = {
  /** One per tier, named after it, with the tier's limit (lib/vocabulary.ts). */
  tier: Object.fromEntries(TIERS.map((tier) => [tier, quota(tier, tierRules[tier].limit)])) as Record<
    Tier,
    RateLimitPolicy
  >,
  person: quota('person', 1_000),
  admin: quota('admin', 10_000),
  /** Failed credentials count against the client IP, never against the key or account they named. */
  authFailuresByIp: throttle('auth_failures', 100),
  /**
   * Not in API.md: requests refused after the credential was verified (another tenant's id → 404, a
   * missing role or scope → 403), per caller, and per IP for callers without a credential. Probing
   * ends in 429 without touching the caller's own quota.
   */
  refusals: quota('refusals', 100),
  loginByIp: throttle('login', 100),
  /**
   * Failed logins per (account, client address): guessing from one address stops here, while
   * strangers elsewhere cannot lock the owner out (API.md §3; the account-wide stop is the cap of
   * consecutive failures in users.failed_logins).
   */
  loginFailuresByAccountAndIp: throttle('login_account_ip', 10),
  forgotPasswordByEmail: throttle('forgot_password_email', 5),
  forgotPasswordByIp: throttle('forgot_password', 20),
  /** Not in API.md: refreshes come from every open tab, so they get a bucket of their own. */
  refreshByIp: throttle('refresh', 1_000),
  /** Not in API.md: reset-token checks and uses, per IP (tokens have 256 bits; this sheds load). */
  passwordResetByIp: throttle('password_reset', 100),
  /**
   * Not in API.md: adding a team member answers 409 for an email that has an account anywhere on
   * the platform, so additions are capped per tenant and per caller to keep that from being a
   * platform-wide email oracle (§5).
   */
  teamInviteByTenant: throttle('team_invite_tenant', 50),
  teamInviteByCaller: throttle('team_invite_caller', 20),
} as const;
