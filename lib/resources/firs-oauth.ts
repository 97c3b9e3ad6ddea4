import * as z from 'zod';
import { recordAudit } from '../audit/audit.repository.js';
import type { Config } from '../config.js';
import type { DataCipher } from '../crypto/data-cipher.js';
import { AppError } from '../errors.js';
import { lazy } from '../lazy.js';
import { secretContext } from './masking.js';
import { upsertFirsConnection } from './settings.repository.js';
import type { Change } from './settings.service.js';

type FirsOAuthSettings = NonNullable<Config['firsOAuth']>;

export interface CodeExchange {
  readonly code: string;
  readonly redirect_uri: string;
  readonly code_verifier?: string | undefined;
}

/** RFC 6749 §5.1: what a successful token response must hold for us to use it. */
const tokenResponse = lazy(() =>
  z.object({
    access_token: z.string().min(1).max(8192),
    token_type: z.string().optional(),
    expires_in: z
      .number()
      .int()
      .positive()
      .max(10 * 365 * 86400)
      .optional(),
    refresh_token: z.string().min(1).max(8192).optional(),
  }),
);

/** RFC 6749 §5.2's `error`, only when it is a plain code (never the upstream's free text). */
function oauthErrorCode(body: unknown): string | null {
  const error = (body as { error?: unknown } | null)?.error;
  return typeof error === 'string' && /^[a-z_]{1,40}$/.test(error) ? error : null;
}

async function readJson(response: Response): Promise<unknown> {
  try {
    return await response.json();
  } catch (error) {
    if (isTimeout(error)) throw error;
    return null;
  }
}

function isTimeout(error: unknown): boolean {
  return error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
}

/**
 * Exchanges an authorization code at FIRS_OAUTH_TOKEN_URL (RFC 6749 §4.1.3, the client authenticated
 * with HTTP Basic as §2.3.1 requires servers to support; PKCE's verifier passed through). Every failure
 * is a clear problem, never a 500: the upstream refusing or answering garbage → 502 upstream_error,
 * no answer within FIRS_OAUTH_TIMEOUT_MS → 504 upstream_timeout. Redirects are not followed.
 */
export async function exchangeCode(
  settings: FirsOAuthSettings,
  input: CodeExchange,
): Promise<z.output<ReturnType<typeof tokenResponse>>> {
  const form = new URLSearchParams({
    grant_type: 'authorization_code',
    code: input.code,
    redirect_uri: input.redirect_uri,
    client_id: settings.clientId,
  });
  if (input.code_verifier) form.set('code_verifier', input.code_verifier);
  const basic = Buffer.from(
    `${encodeURIComponent(settings.clientId)}:${encodeURIComponent(settings.clientSecret)}`,
  ).toString('base64');
  let response: Response;
  let body: unknown;
  try {
    response = await fetch(settings.tokenUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
        authorization: `Basic ${basic}`,
      },
      body: form,
      redirect: 'manual',
      signal: AbortSignal.timeout(settings.timeoutMs),
    });
    body = await readJson(response);
  } catch (error) {
    if (isTimeout(error))
      throw new AppError('upstream_timeout', 'The FIRS token endpoint did not answer in time.');
    throw new AppError('upstream_error', 'The FIRS token endpoint could not be reached.');
  }
  if (!response.ok) {
    const code = oauthErrorCode(body);
    throw new AppError(
      'upstream_error',
      `The FIRS token endpoint refused the exchange (HTTP ${response.status}${code ? `, ${code}` : ''}).`,
    );
  }
  const parsed = tokenResponse().safeParse(body);
  if (!parsed.success)
    throw new AppError('upstream_error', 'The FIRS token endpoint answered without a usable token.');
  return parsed.data;
}

/** Exchanges the code and stores the tokens encrypted, audited in one transaction. */
export async function connectFirs(
  change: Change,
  cipher: DataCipher,
  settings: Config['firsOAuth'],
  input: CodeExchange,
): Promise<{ expiresAt: Date | null }> {
  if (!settings)
    throw new AppError('service_unavailable', 'FIRS OAuth is not configured on this deployment.');
  const tokens = await exchangeCode(settings, input);
  const { tenantId, at } = change;
  const expiresAt =
    tokens.expires_in === undefined ? null : new Date(at.getTime() + tokens.expires_in * 1000);
  await change.db.transaction().execute(async (trx) => {
    await upsertFirsConnection(
      trx,
      tenantId,
      {
        access_token_enc: cipher.encrypt(tokens.access_token, secretContext('firs.access_token', tenantId)),
        refresh_token_enc:
          tokens.refresh_token === undefined
            ? null
            : cipher.encrypt(tokens.refresh_token, secretContext('firs.refresh_token', tenantId)),
        expires_at: expiresAt,
      },
      at,
    );
    await recordAudit(
      trx,
      change.actor,
      {
        tenantId,
        action: 'firs.oauth_connected',
        target: { type: 'tenant', id: tenantId },
        metadata: {
          expires_at: expiresAt?.toISOString() ?? null,
          refresh_token: tokens.refresh_token !== undefined,
        },
      },
      at,
    );
  });
  return { expiresAt };
}
