/**
 * The service's vocabulary, written once: tiers (with their key prefix, rate limit and scopes), scopes,
 * roles, statuses, and the shape of every secret the service hands out. zod enums, rate-limit policies,
 * the credential-in-URL check, log redaction, schema.sql's CHECKs (compared by a test) and the portal
 * derive from here. No Node imports: this module also runs in the browser.
 */

/** Every limit is counted in fixed windows of this many seconds (API.md §3). */
export const RATE_WINDOW_SECONDS = 900;

export const SCOPES = [
  'contracts',
  'vaults',
  'webhooks',
  'embed',
  'admin',
  'invoices',
  'settings',
  'team',
  'credentials',
] as const;
export type Scope = (typeof SCOPES)[number];

const PUBLIC_SCOPES = ['contracts', 'vaults', 'invoices', 'settings', 'team', 'credentials'] as const;
const PARTNER_SCOPES = [...PUBLIC_SCOPES, 'webhooks', 'embed'] as const;
const INTERNAL_SCOPES = [...PARTNER_SCOPES, 'admin'] as const;

/** Lowest first: a tenant's `max_tier` admits its own tier and every tier before it. */
export const TIERS = ['public', 'partner', 'internal'] as const;
export type Tier = (typeof TIERS)[number];

export interface TierRule {
  /** The two letters after `heir_` in a key of this tier. */
  readonly code: string;
  /** Requests per window for one key of this tier. */
  readonly limit: number;
  /** The scopes a key of this tier may carry. */
  readonly scopes: readonly Scope[];
}

/** API.md §1 "Tiers". */
export const tierRules = {
  public: { code: 'pk', limit: 100, scopes: PUBLIC_SCOPES },
  partner: { code: 'pt', limit: 1_000, scopes: PARTNER_SCOPES },
  internal: { code: 'in', limit: 10_000, scopes: INTERNAL_SCOPES },
} as const satisfies Record<Tier, TierRule>;

export function tierRank(tier: Tier): number {
  return TIERS.indexOf(tier);
}

export function tierOfCode(code: string): Tier | undefined {
  return TIERS.find((tier) => tierRules[tier].code === code);
}

export const ROLES = ['owner', 'admin', 'member'] as const;
export type Role = (typeof ROLES)[number];

export const TENANT_STATUSES = ['active', 'suspended'] as const;
export const USER_STATUSES = ['active', 'disabled'] as const;
/** A key's status is derived from its timestamps (never stored): see lib/keys/key-status.ts. */
export const KEY_STATUSES = ['active', 'rotating', 'expired', 'revoked'] as const;
export type KeyStatus = (typeof KEY_STATUSES)[number];
export const ACTOR_TYPES = ['admin_key', 'api_key', 'user', 'anonymous', 'system'] as const;
export type ActorType = (typeof ACTOR_TYPES)[number];

/** Limits on what a key carries (API.md "API keys"). */
export const KEY_LIMITS = {
  maxActivePerTenant: 100,
  maxIpEntries: 50,
  expiresInDays: { min: 1, max: 3_650, default: 365 },
  gracePeriodHours: { min: 0, max: 168, default: 24 },
} as const;

const BASE62 = '0-9A-Za-z';
const TIER_CODES = TIERS.map((tier) => tierRules[tier].code).join('|');

/**
 * API keys: `heir_<tier code>_` + 30 random base62 characters + 6 base62 characters of a CRC-32 over
 * everything before them, 44 characters in all (API.md §1).
 */
export const API_KEY = {
  prefix: 'heir_',
  randomLength: 30,
  checksumLength: 6,
  length: 44,
  alphabet: '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz',
} as const;

/**
 * The shape of every secret the service hands out. `exact` checks a whole value; `anywhere` (global)
 * finds one inside longer text (logs, query strings), generously, so a truncated or mistyped secret
 * is still caught.
 */
export const secretShapes = {
  apiKey: {
    exact: new RegExp(`^heir_(${TIER_CODES})_[${BASE62}]{${API_KEY.randomLength + API_KEY.checksumLength}}$`),
    anywhere: new RegExp(`heir_(${TIER_CODES})_[${BASE62}]{8,}`, 'g'),
  },
  /** Refresh tokens: `rt_` + 43 base64url characters (32 random bytes). */
  refreshToken: { exact: /^rt_[\w-]{43}$/, anywhere: /\brt_[\w-]{32,}/g },
  /** Webhook signing secrets: `whsec_` + 43 base64url characters (32 random bytes). */
  webhookSecret: { exact: /^whsec_[\w-]{43}$/, anywhere: /whsec_[\w-]{16,}/g },
  /** Any JWS in compact form whose header and payload are JSON objects (`eyJ…`). */
  jwt: { exact: /^eyJ[\w-]+\.eyJ[\w-]+\.[\w-]*$/, anywhere: /eyJ[\w-]{4,}\.eyJ[\w-]{4,}\.[\w-]*/g },
} as const;

/** Not secrets, but identifiers with a fixed shape: the admin key's fingerprint in audit events and limits. */
export const identifierShapes = {
  adminFingerprint: /^admin_[0-9a-f]{12}$/,
} as const;

/** True when `text` contains something shaped like one of our secrets. */
export function containsSecret(text: string): boolean {
  return Object.values(secretShapes).some(({ anywhere }) => {
    anywhere.lastIndex = 0;
    return anywhere.test(text);
  });
}
