import { AppError, type ErrorCode, errorCatalog, type FieldError } from '../errors.js';
import type { Answer } from './exchange.js';

export const PROBLEM_TYPE_BASE = '/docs/errors#';

export interface ProblemInit {
  readonly code: ErrorCode;
  readonly requestId: string;
  readonly detail?: string;
  readonly errors?: readonly FieldError[];
  readonly headers?: Record<string, string>;
}

/** RFC 9457 problem details, with the stable `code` and the request id. */
export function problemAnswer(init: ProblemInit): Answer {
  const entry = errorCatalog[init.code];
  const body = {
    type: `${PROBLEM_TYPE_BASE}${init.code}`,
    title: entry.title,
    status: entry.status,
    code: init.code,
    detail: init.detail ?? entry.about,
    request_id: init.requestId,
    ...(init.errors && init.errors.length > 0 ? { errors: init.errors } : {}),
  };
  return {
    status: entry.status,
    headers: { 'content-type': 'application/problem+json', ...challengeFor(init.code), ...init.headers },
    body: JSON.stringify(body),
  };
}

export function problemFromError(
  error: AppError,
  requestId: string,
  headers?: Record<string, string>,
): Answer {
  return problemAnswer({
    code: error.code,
    requestId,
    ...(error.detail !== undefined ? { detail: error.detail } : {}),
    ...(error.errors ? { errors: error.errors } : {}),
    ...(headers ? { headers } : {}),
  });
}

/** 401s say how to authenticate (RFC 9110 §11.6.1). */
function challengeFor(code: ErrorCode): Record<string, string> {
  if (errorCatalog[code].status !== 401) return {};
  if (code === 'invalid_admin_key') return { 'www-authenticate': 'AdminKey realm="heir-admin"' };
  if (code === 'invalid_token' || code === 'token_expired' || code === 'refresh_token_reused') {
    return { 'www-authenticate': 'Bearer realm="heir", error="invalid_token"' };
  }
  return { 'www-authenticate': 'Bearer realm="heir"' };
}

export { AppError };
