/**
 * The closed set of error codes (API.md §2). Domain code throws the named errors below; the HTTP
 * boundary (lib/http/problem.ts) renders them as problem+json. Adding a code means documenting it:
 * public/docs/errors is generated from this catalog.
 */
export const errorCatalog = {
  invalid_json: { status: 400, title: 'Invalid JSON', about: 'The request body is not valid JSON.' },
  invalid_request: {
    status: 400,
    title: 'Invalid request',
    about: 'A header or the request line is malformed.',
  },
  ambiguous_credentials: {
    status: 400,
    title: 'Ambiguous credentials',
    about: 'More than one kind of credential was sent; send exactly one.',
  },
  credentials_in_url: {
    status: 400,
    title: 'Credentials in URL',
    about: 'A credential was sent in the query string. URLs end up in logs: send it in a header.',
  },
  invalid_reset_token: {
    status: 400,
    title: 'Invalid reset token',
    about: 'The password reset token is unknown, spent or expired.',
  },
  missing_credentials: {
    status: 401,
    title: 'Missing credentials',
    about: 'This endpoint needs a credential.',
  },
  invalid_api_key: { status: 401, title: 'Invalid API key', about: 'The API key is malformed or unknown.' },
  key_expired: { status: 401, title: 'API key expired', about: 'The API key has passed its expiry date.' },
  key_revoked: { status: 401, title: 'API key revoked', about: 'The API key has been revoked.' },
  invalid_token: {
    status: 401,
    title: 'Invalid token',
    about: 'The bearer token is malformed, forged or revoked.',
  },
  token_expired: { status: 401, title: 'Token expired', about: 'The access token has expired; refresh it.' },
  invalid_credentials: {
    status: 401,
    title: 'Invalid credentials',
    about: 'The email or password is wrong.',
  },
  refresh_token_reused: {
    status: 401,
    title: 'Refresh token reused',
    about:
      'A spent refresh token, or an access token already exchanged at /v1/auth/refresh, was presented; every token of that login has been revoked.',
  },
  invalid_admin_key: { status: 401, title: 'Invalid admin key', about: 'The admin key is wrong.' },
  insufficient_scope: {
    status: 403,
    title: 'Insufficient scope',
    about: 'The API key does not carry the scope this endpoint needs.',
  },
  tier_not_allowed: {
    status: 403,
    title: 'Tier not allowed',
    about: "The requested tier is above the tenant's maximum, or only admins may use it.",
  },
  ip_not_allowed: {
    status: 403,
    title: 'IP not allowed',
    about: "The client IP is not on the key's allow-list.",
  },
  tenant_suspended: { status: 403, title: 'Tenant suspended', about: 'The tenant has been suspended.' },
  forbidden: { status: 403, title: 'Forbidden', about: 'This credential may not perform this operation.' },
  password_change_required: {
    status: 403,
    title: 'Password change required',
    about: 'The account has a temporary password; set a new one with POST /v1/auth/set-password.',
  },
  not_found: {
    status: 404,
    title: 'Not found',
    about: 'No such resource (or it belongs to another tenant).',
  },
  method_not_allowed: {
    status: 405,
    title: 'Method not allowed',
    about: 'The path exists but not with this method; see the Allow header.',
  },
  conflict: {
    status: 409,
    title: 'Conflict',
    about: 'The request conflicts with existing data (a duplicate, a limit).',
  },
  payload_too_large: {
    status: 413,
    title: 'Payload too large',
    about: 'Request bodies are limited to 64 KiB.',
  },
  unsupported_media_type: {
    status: 415,
    title: 'Unsupported media type',
    about: 'Request bodies must be application/json.',
  },
  validation_failed: {
    status: 422,
    title: 'Validation failed',
    about: 'The request is well-formed but some fields are invalid; see `errors`.',
  },
  rate_limited: {
    status: 429,
    title: 'Rate limited',
    about: 'Too many requests in this window; retry after the Retry-After header.',
  },
  internal_error: {
    status: 500,
    title: 'Internal error',
    about: 'Something failed on our side; quote the request_id when reporting it.',
  },
  upstream_error: {
    status: 502,
    title: 'Upstream error',
    about:
      'A service we called on your behalf (the FIRS token endpoint) refused the request or answered something unusable.',
  },
  service_unavailable: {
    status: 503,
    title: 'Service unavailable',
    about: 'A dependency is down; retry after the Retry-After header.',
  },
  upstream_timeout: {
    status: 504,
    title: 'Upstream timeout',
    about: 'A service we called on your behalf (the FIRS token endpoint) did not answer in time.',
  },
} as const satisfies Record<string, { status: number; title: string; about: string }>;

export type ErrorCode = keyof typeof errorCatalog;

export interface FieldError {
  readonly path: string;
  readonly message: string;
  readonly code?: string;
}

export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    readonly detail?: string,
    readonly errors?: readonly FieldError[],
  ) {
    super(detail ?? errorCatalog[code].title);
    this.name = 'AppError';
  }
}

export class NotFoundError extends AppError {
  constructor(detail = 'No such resource.') {
    super('not_found', detail);
    this.name = 'NotFoundError';
  }
}

export class ConflictError extends AppError {
  constructor(detail: string) {
    super('conflict', detail);
    this.name = 'ConflictError';
  }
}

export class ValidationError extends AppError {
  constructor(errors: readonly FieldError[], detail = 'Some fields are invalid.') {
    super('validation_failed', detail, errors);
    this.name = 'ValidationError';
  }
}

type Code<S extends number> = {
  [C in ErrorCode]: (typeof errorCatalog)[C]['status'] extends S ? C : never;
}[ErrorCode];

/**
 * 401: the credential is missing, malformed, unknown, expired or revoked. `countsAsFailure: false`
 * marks a refusal that cost no lookup (an API key of the wrong shape or checksum): it touches neither
 * the database nor the rate limiter, not even the IP's failure budget.
 */
export class AuthenticationError extends AppError {
  constructor(
    code: Code<401>,
    detail?: string,
    readonly countsAsFailure = true,
  ) {
    super(code, detail);
    this.name = 'AuthenticationError';
  }
}

/** 403: the caller is known but may not do this. */
export class ForbiddenError extends AppError {
  constructor(code: Code<403> = 'forbidden', detail?: string) {
    super(code, detail);
    this.name = 'ForbiddenError';
  }
}

/** 400s that are not validation: malformed requests. */
export class BadRequestError extends AppError {
  constructor(code: Code<400>, detail?: string) {
    super(code, detail);
    this.name = 'BadRequestError';
  }
}
