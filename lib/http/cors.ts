/**
 * CORS: an origin is never reflected unless it is listed in CORS_ORIGINS (the portal is same-origin
 * and needs none). Credentials travel in headers, never cookies, so no allow-credentials either.
 */
const ALLOWED_HEADERS = 'authorization, content-type, x-api-key, x-admin-key, idempotency-key, x-request-id';
const EXPOSED_HEADERS =
  'x-request-id, retry-after, x-ratelimit-limit, x-ratelimit-remaining, x-ratelimit-reset, ratelimit, ratelimit-policy';

export function corsHeaders(origin: string | null, allowed: readonly string[]): Record<string, string> {
  if (!origin || !allowed.includes(origin)) return {};
  // Vary: a shared cache must not hand one origin's answer to another.
  return {
    'access-control-allow-origin': origin,
    'access-control-expose-headers': EXPOSED_HEADERS,
    vary: 'origin',
  };
}

export function preflightHeaders(
  origin: string | null,
  allowed: readonly string[],
  methods: readonly string[],
): Record<string, string> {
  if (!origin || !allowed.includes(origin)) return {};
  return {
    'access-control-allow-origin': origin,
    'access-control-allow-methods': methods.join(', '),
    'access-control-allow-headers': ALLOWED_HEADERS,
    'access-control-max-age': '600',
    vary: 'origin',
  };
}
