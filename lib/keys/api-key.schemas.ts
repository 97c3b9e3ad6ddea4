import * as z from 'zod';
import { pageQuery } from '../db/pagination.js';
import { lazy } from '../lazy.js';
import { displayNameSchema } from '../validation/text.js';
import { KEY_LIMITS, KEY_STATUSES, RATE_WINDOW_SECONDS, SCOPES, TIERS, tierRules } from '../vocabulary.js';
import type { ApiKeyRow } from './api-key.repository.js';
import { ipAllowListSchema, normaliseEntry } from './ip-allow-list.js';
import { keyStatus } from './key-status.js';
import type { KeyAnomaly } from './key-usage.js';

export const scopeSchema = lazy(() => z.enum(SCOPES).meta({ id: 'Scope' }));
const tierSchema = lazy(() => z.enum(TIERS));
const scopesSchema = lazy(() =>
  z
    .array(scopeSchema())
    .min(1)
    .max(SCOPES.length)
    .transform((scopes) => [...new Set(scopes)]),
);
const expiresInDays = lazy(() =>
  z
    .int()
    .min(KEY_LIMITS.expiresInDays.min)
    .max(KEY_LIMITS.expiresInDays.max)
    .meta({ description: `Days until the key expires (default ${KEY_LIMITS.expiresInDays.default}).` }),
);
/** A key's tier never changes (its prefix says it): an update that names one is refused, not ignored. */
const noTier = lazy(() =>
  z.never({ error: "A key's tier never changes; create a new key of the tier you need." }).optional(),
);

/** POST /v1/api-keys. `tenant_id` only from admins (the pipeline enforces it). Unknown fields → 422. */
export const createKeyBody = lazy(() =>
  z.strictObject({
    name: displayNameSchema(),
    tier: tierSchema(),
    scopes: scopesSchema(),
    ip_whitelist: ipAllowListSchema().optional(),
    expires_in_days: expiresInDays().optional(),
    tenant_id: z.uuid().optional(),
  }),
);

/** POST /v1/tenants/{tenantId}/api-keys (admins): the tier defaults to `public`. */
export const createTenantKeyBody = lazy(() =>
  z.strictObject({
    name: displayNameSchema(),
    tier: tierSchema().default('public'),
    scopes: scopesSchema(),
    ip_whitelist: ipAllowListSchema().optional(),
    expires_in_days: expiresInDays().optional(),
  }),
);

export const updateKeyBody = lazy(() =>
  z
    .strictObject({
      name: displayNameSchema().optional(),
      scopes: scopesSchema().optional(),
      ip_whitelist: ipAllowListSchema().optional(),
      tier: noTier(),
    })
    .refine(
      (body) => body.name !== undefined || body.scopes !== undefined || body.ip_whitelist !== undefined,
      'send at least one of name, scopes, ip_whitelist',
    ),
);

export const rotateKeyBody = lazy(() =>
  z.strictObject({
    grace_period_hours: z
      .int()
      .min(KEY_LIMITS.gracePeriodHours.min)
      .max(KEY_LIMITS.gracePeriodHours.max)
      .optional()
      .meta({
        description: `Hours the previous secret keeps working (default ${KEY_LIMITS.gracePeriodHours.default}).`,
      }),
  }),
);

export const listKeysQuery = lazy(() =>
  pageQuery().extend({
    status: z.enum(KEY_STATUSES).optional(),
    tenant_id: z.uuid().optional(),
  }),
);
export const listTenantKeysQuery = lazy(() =>
  pageQuery().extend({ status: z.enum(KEY_STATUSES).optional() }),
);

export const keyParams = lazy(() => z.object({ id: z.uuid() }));
export const tenantKeyParams = lazy(() => z.object({ tenantId: z.uuid(), keyId: z.uuid() }));

/** A single IP address (not a range), normalised; for `POST /v1/keys/verify`. */
const ipAddressSchema = lazy(() =>
  z
    .string()
    .max(100)
    .transform((value, ctx) => {
      const normalised = value.includes('/') ? null : normaliseEntry(value);
      if (normalised === null) {
        ctx.addIssue({ code: 'custom', message: 'Not an IPv4 or IPv6 address.' });
        return z.NEVER;
      }
      return normalised;
    }),
);

export const verifyKeyBody = lazy(() =>
  z.strictObject({
    key: z.string().min(1).max(200),
    scope: scopeSchema().optional(),
    ip: ipAddressSchema().optional(),
  }),
);

const rateLimitSchema = lazy(() =>
  z.object({ limit: z.int(), window_seconds: z.literal(RATE_WINDOW_SECONDS) }),
);

/** The key's latest anomaly (API.md §5 "Anomalies"): the `api_key.anomaly` event's metadata and when. */
const keyAnomalySchema = lazy(() =>
  z
    .discriminatedUnion('kind', [
      z.object({
        kind: z.literal('new_address'),
        detected_at: z.iso.datetime(),
        ip: z.string().nullable().meta({ description: 'The new client address.' }),
      }),
      z.object({
        kind: z.literal('spike'),
        detected_at: z.iso.datetime(),
        window_start: z.iso.datetime(),
        requests: z.int().meta({ description: 'Requests in that window when the spike was found.' }),
      }),
    ])
    .meta({
      id: 'ApiKeyAnomaly',
      description: 'The latest anomaly found for the key; a newer one replaces it, nothing clears it.',
    }),
);

export const keySchema = lazy(() =>
  z
    .object({
      id: z.uuid(),
      name: z.string(),
      tier: tierSchema(),
      prefix: z.string(),
      last4: z.string(),
      scopes: z.array(scopeSchema()),
      ip_whitelist: z.array(z.string()),
      tenant_id: z.uuid(),
      created_by: z.object({ type: z.string(), id: z.string().nullable() }),
      created_at: z.iso.datetime(),
      updated_at: z.iso.datetime(),
      expires_at: z.iso.datetime(),
      last_used_at: z.iso.datetime().nullable(),
      last_used_ip: z.string().nullable(),
      revoked_at: z.iso.datetime().nullable(),
      rotated_at: z.iso.datetime().nullable(),
      previous_secret_expires_at: z.iso.datetime().nullable(),
      status: z.enum(KEY_STATUSES),
      rate_limit: rateLimitSchema(),
      anomaly: keyAnomalySchema().nullable(),
    })
    .meta({ id: 'ApiKey' }),
);

export const keyWithSecretSchema = lazy(() =>
  keySchema()
    .extend({ key: z.string().meta({ description: 'The full key. Shown only in this response.' }) })
    .meta({ id: 'ApiKeyWithSecret' }),
);

export const verifyKeyResponse = lazy(() =>
  z
    .object({
      valid: z.boolean(),
      code: z.enum([
        'valid',
        'invalid_api_key',
        'key_revoked',
        'key_expired',
        'tenant_suspended',
        'ip_not_allowed',
        'insufficient_scope',
      ]),
      key_id: z.uuid().optional(),
      tenant_id: z.uuid().optional(),
      tier: tierSchema().optional(),
      scopes: z.array(scopeSchema()).optional(),
      expires_at: z.iso.datetime().optional(),
      rate_limit: rateLimitSchema().optional(),
    })
    .meta({ id: 'KeyVerification' }),
);

export const keyUsageSchema = lazy(() =>
  z
    .object({
      key_id: z.uuid(),
      windows: z.array(z.object({ start: z.iso.datetime(), requests: z.int(), limited: z.int() })),
      last_used_at: z.iso.datetime().nullable(),
      last_used_ip: z.string().nullable(),
    })
    .meta({ id: 'ApiKeyUsage' }),
);

export type KeyView = z.infer<ReturnType<typeof keySchema>>;

const iso = (date: Date | null) => date?.toISOString() ?? null;

export function toKeyView(row: ApiKeyRow, at: Date): KeyView {
  const previousLive = row.previous_expires_at && row.previous_expires_at > at;
  return {
    id: row.id,
    name: row.name,
    tier: row.tier,
    prefix: row.prefix,
    last4: row.last4,
    scopes: row.scopes,
    ip_whitelist: row.ip_whitelist,
    tenant_id: row.tenant_id,
    created_by: { type: row.created_by_type, id: row.created_by },
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
    expires_at: row.expires_at.toISOString(),
    last_used_at: iso(row.last_used_at),
    last_used_ip: row.last_used_ip,
    revoked_at: iso(row.revoked_at),
    rotated_at: iso(row.rotated_at),
    previous_secret_expires_at: previousLive ? iso(row.previous_expires_at) : null,
    status: keyStatus(row, at),
    rate_limit: { limit: tierRules[row.tier].limit, window_seconds: RATE_WINDOW_SECONDS },
    anomaly: row.anomaly_at
      ? { ...(row.anomaly as KeyAnomaly), detected_at: row.anomaly_at.toISOString() }
      : null,
  };
}
