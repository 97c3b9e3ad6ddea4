/**
 * The portal's only way to the API (same origin, docs/API.md). Holds the session: the access token in
 * memory only, the refresh token in sessionStorage (so a reload in the same tab keeps the login, and
 * closing the tab ends it), both dropped on sign-out. The access token is refreshed silently a minute
 * before it expires; a refused refresh ends the session with a message. No secret ever goes into a
 * URL: every token and password travels in a header or a JSON body.
 */
import type { Role, Tier } from '../../lib/vocabulary.js';

export interface FieldError {
  readonly path: string;
  readonly message: string;
  readonly code?: string;
}

/** A problem+json answer (API.md §2), or a network failure (status 0). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly title: string,
    readonly detail: string | null,
    readonly errors: readonly FieldError[] = [],
  ) {
    super(detail ? `${title}: ${detail}` : title);
  }

  /** The messages of the field errors whose path starts with `field` (`scopes` covers `scopes.2`). */
  forField(field: string): string[] {
    return this.errors
      .filter((error) => error.path === field || error.path.startsWith(`${field}.`))
      .map((error) => error.message);
  }
}

export interface User {
  readonly id: string;
  readonly email: string;
  readonly name: string;
  readonly role: Role;
  readonly tenant_id: string;
}
export interface Tenant {
  readonly id: string;
  readonly name: string;
  readonly slug: string;
  readonly status: string;
  readonly max_tier: Tier;
}
export interface Me {
  readonly user: User;
  readonly tenant: Tenant;
}
interface Tokens {
  readonly access_token: string;
  readonly refresh_token: string;
  readonly expires_in: number;
}

const REFRESH_KEY = 'heir.portal.refresh';
/** Refresh this long before the access token expires. */
const REFRESH_MARGIN_SECONDS = 60;

let accessToken: string | null = null;
let refreshTimer: ReturnType<typeof setTimeout> | null = null;
let refreshing: Promise<void> | null = null;
let onSessionEnd: (message: string | null) => void = () => {};

/** The UI registers what happens when a session ends (sign-out, or a refused refresh). */
export function onSessionEnded(handler: (message: string | null) => void): void {
  onSessionEnd = handler;
}

async function problemFrom(response: Response): Promise<ApiError> {
  // biome-ignore lint/suspicious/noExplicitAny: a problem body is read field by field below.
  let body: any = null;
  try {
    body = await response.json();
  } catch {
    // Not JSON (a proxy's page): the status alone says what happened.
  }
  const title = typeof body?.title === 'string' ? body.title : `The server answered ${response.status}`;
  return new ApiError(
    response.status,
    typeof body?.code === 'string' ? body.code : 'unknown',
    title,
    typeof body?.detail === 'string' ? body.detail : null,
    Array.isArray(body?.errors) ? body.errors : [],
  );
}

async function send(method: string, path: string, body: unknown, token: string | null): Promise<Response> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token) headers.authorization = `Bearer ${token}`;
  try {
    return await fetch(path, {
      method,
      headers,
      body: body === undefined ? null : JSON.stringify(body),
      credentials: 'omit',
      cache: 'no-store',
    });
  } catch {
    throw new ApiError(
      0,
      'network_error',
      'The service could not be reached',
      'Check your connection and try again.',
    );
  }
}

async function read<T>(response: Response): Promise<T> {
  if (!response.ok) throw await problemFrom(response);
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

/** A call without credentials (sign-in, forgot and reset password). */
export async function publicCall<T>(method: string, path: string, body?: unknown): Promise<T> {
  return read<T>(await send(method, path, body, null));
}

/** A call as the signed-in person; an expired access token is refreshed once and the call retried. */
export async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  if (refreshing) await refreshing;
  let response = await send(method, path, body, accessToken);
  if (response.status === 401 && sessionStorage.getItem(REFRESH_KEY)) {
    const problem = await problemFrom(response.clone());
    if (problem.code === 'token_expired' || problem.code === 'invalid_token') {
      await refresh();
      response = await send(method, path, body, accessToken);
    }
  }
  return read<T>(response);
}

function schedule(expiresIn: number): void {
  if (refreshTimer) clearTimeout(refreshTimer);
  const delay = Math.max(5, expiresIn - REFRESH_MARGIN_SECONDS) * 1000;
  refreshTimer = setTimeout(() => {
    refresh().catch(() => {
      // refresh() has already ended the session and said why.
    });
  }, delay);
}

/** Starts a session from a login's (or set-password's, or refresh's) tokens. */
export function startSession(tokens: Tokens): void {
  accessToken = tokens.access_token;
  sessionStorage.setItem(REFRESH_KEY, tokens.refresh_token);
  schedule(tokens.expires_in);
}

/** Forgets every credential this tab holds. */
function clearSession(): void {
  accessToken = null;
  sessionStorage.removeItem(REFRESH_KEY);
  if (refreshTimer) clearTimeout(refreshTimer);
  refreshTimer = null;
}

/** Exchanges the refresh token for a new pair; a refusal ends the session with a message. */
export function refresh(): Promise<void> {
  if (refreshing) return refreshing;
  const token = sessionStorage.getItem(REFRESH_KEY);
  refreshing = (async () => {
    if (!token) throw new ApiError(401, 'invalid_token', 'Not signed in', null);
    const response = await send('POST', '/v1/auth/refresh', { refresh_token: token }, null);
    if (!response.ok) {
      const problem = await problemFrom(response);
      // Only a refusal ends the session; a network error or 503 leaves it for the next attempt.
      if (problem.status === 401 || problem.status === 403) {
        clearSession();
        onSessionEnd('Your session has ended. Please sign in again.');
      } else {
        schedule(REFRESH_MARGIN_SECONDS + 30);
      }
      throw problem;
    }
    startSession((await response.json()) as Tokens);
  })().finally(() => {
    refreshing = null;
  });
  return refreshing;
}

/** True when this tab holds a refresh token from an earlier page load. */
export function hasStoredSession(): boolean {
  return sessionStorage.getItem(REFRESH_KEY) !== null;
}

/** Signs out: revokes the login on the server (best effort) and forgets every credential here. */
export async function signOut(): Promise<void> {
  const token = accessToken;
  clearSession();
  if (token) {
    try {
      await send('POST', '/v1/auth/logout', undefined, token);
    } catch {
      // Offline: the credentials are gone from this tab all the same.
    }
  }
  onSessionEnd(null);
}
