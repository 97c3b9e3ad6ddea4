import { BadRequestError } from '../errors.js';
import type { HeaderReader } from '../http/exchange.js';
import { containsSecret } from '../vocabulary.js';

/** A credential as presented on the request, before it is verified. */
export type PresentedCredential =
  | { readonly kind: 'admin_key'; readonly secret: string }
  | { readonly kind: 'api_key'; readonly secret: string }
  | { readonly kind: 'bearer_token'; readonly token: string }
  /** An Authorization header with a scheme we do not speak (Basic, Digest …). */
  | { readonly kind: 'unsupported_scheme' }
  /** `Authorization: Bearer` with nothing after it (an unset shell variable, typically). */
  | { readonly kind: 'empty_bearer' };

/**
 * Query parameter names that carry credentials in the wild; never accepted (URLs are logged).
 * Compared case-insensitively with `-` and `_` alike (`access-token`, `X_API_KEY` …).
 */
const CREDENTIAL_PARAMS = new Set(
  [
    'api_key',
    'apikey',
    'x_api_key',
    'key',
    'admin_key',
    'x_admin_key',
    'adminkey',
    'token',
    'access_token',
    'accesstoken',
    'refresh_token',
    'id_token',
    'jwt',
    'auth',
    'authorization',
    'bearer',
    'password',
    'secret',
    'client_secret',
  ].map((name) => name.replace(/_/g, '')),
);

/** Rejects a request whose query string carries something that looks like a credential. */
export function assertNoCredentialsInUrl(url: URL): void {
  const search = url.search;
  if (search === '') return; // most requests: no query to look through
  if (cleanQueries.has(search)) return;
  if (!carriesCredential(url.searchParams)) {
    if (cleanQueries.size >= MEMO_SIZE) cleanQueries.clear(); // a scanner's random queries
    cleanQueries.add(search);
    return;
  }
  throw new BadRequestError(
    'credentials_in_url',
    'Credentials are never accepted in the URL; send them in a header.',
  );
}

/**
 * Query strings found to carry no credential (the verdict is a pure function of the string), bounded:
 * most requests repeat a few (a rewrite's `rest=whoami`), and going through their parameters cost more
 * than the lookup. Only clean ones are kept, so no secret a client put in a URL stays in memory.
 */
const MEMO_SIZE = 1_024;
const cleanQueries = new Set<string>();

function carriesCredential(params: URLSearchParams): boolean {
  for (const [name, value] of params) {
    const normalised = name.toLowerCase().replace(/[-_]/g, '');
    // Values shaped like one of our secrets (lib/vocabulary.ts) are refused under whatever name.
    if (CREDENTIAL_PARAMS.has(normalised) || containsSecret(value)) return true;
  }
  return false;
}

/**
 * Reads the one credential a request carries. More than one (of any kinds) is ambiguous: guessing
 * which one the caller meant would let a weaker credential ride along with a stronger one.
 */
export function extractCredential(headers: HeaderReader): PresentedCredential | null {
  const found: PresentedCredential[] = [];
  const apiKey = headers.get('x-api-key');
  if (apiKey !== null) found.push({ kind: 'api_key', secret: apiKey.trim() });
  const adminKey = headers.get('x-admin-key');
  if (adminKey !== null) found.push({ kind: 'admin_key', secret: adminKey.trim() });
  const authorization = headers.get('authorization');
  if (authorization !== null) {
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization.trim());
    if (/^Bearer$/i.test(authorization.trim())) found.push({ kind: 'empty_bearer' });
    else if (!match?.[1]) found.push({ kind: 'unsupported_scheme' });
    else if (match[1].startsWith('heir_')) found.push({ kind: 'api_key', secret: match[1] });
    else found.push({ kind: 'bearer_token', token: match[1] });
  }
  if (found.length > 1) {
    throw new BadRequestError('ambiguous_credentials', 'Send exactly one credential per request.');
  }
  return found[0] ?? null;
}
