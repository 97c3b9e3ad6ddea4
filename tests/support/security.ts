/** Helpers for tests/security: problem+json assertions, unique client IPs, people whose tokens stay fresh. */
import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import type { App } from '../../lib/app.js';
import { type CallOptions, type CallResult, call } from './client.js';
import { STRONG_PASSWORD } from './fixtures.js';

/**
 * A client IP of its own (198.18.0.0/15, the benchmarking range). Failed credentials count against the
 * client IP (100 per window); a test that fails many credentials on purpose must not exhaust one budget.
 */
export function randomIp(): string {
  return `198.${18 + randomInt(2)}.${randomInt(256)}.${randomInt(1, 255)}`;
}

/** `call` from a fresh client IP unless the options name one. */
export function send(app: App, method: string, path: string, options: CallOptions = {}): Promise<CallResult> {
  return call(app, method, path, { ip: randomIp(), ...options });
}

/** A long random string that cannot appear in a response by coincidence. */
export const secretLike = (label: string) => `${label}-${randomBytes(18).toString('base64url')}`;

const STACK_OR_SQL =
  /\n\s+at |\bat [\w.<>$]+ \(|\.[cm]?[jt]s:\d+|node_modules|\bselect\b.+\bfrom\b|\binsert into\b|\bupdate\b.+\bset\b|relation "|syntax error|violates|duplicate key/i;

/**
 * Asserts an RFC 9457 problem answer: the status and stable `code`, `request_id` equal to the
 * x-request-id header, a challenge on every 401, no stack trace or SQL, and none of `secrets` in the body
 * or in any header.
 */
export function expectProblem(
  res: CallResult,
  status: number,
  code: string,
  secrets: readonly string[] = [],
): void {
  const context = `${res.status} ${res.text}`;
  assert.equal(res.status, status, context);
  assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/, context);
  assert.equal(res.body.code, code, context);
  assert.equal(res.body.status, status, context);
  assert.equal(typeof res.body.title, 'string', context);
  assert.equal(typeof res.body.type, 'string', context);
  const requestId = res.headers.get('x-request-id');
  assert.match(requestId ?? '', /^req_[\w-]+$/, context);
  assert.equal(res.body.request_id, requestId, context);
  if (status === 401)
    assert.ok(res.headers.get('www-authenticate'), `a 401 carries WWW-Authenticate: ${context}`);
  assert.doesNotMatch(res.text, STACK_OR_SQL, 'no stack trace or SQL in an error');
  assertNoSecrets(res, secrets);
}

/** None of `secrets` appears in the body or any header value. */
export function assertNoSecrets(res: CallResult, secrets: readonly string[]): void {
  for (const secret of secrets) {
    assert.ok(secret.length >= 8, 'secrets checked for must be long enough not to match by chance');
    assert.ok(!res.text.includes(secret), `the response body echoes a secret (${res.status})`);
    for (const [name, value] of res.headers) {
      assert.ok(!value.includes(secret), `the ${name} header echoes a secret`);
    }
  }
}

export { STACK_OR_SQL };

/** The body without its per-request id, for comparing two answers. */
export function withoutRequestId(body: Record<string, unknown>): Record<string, unknown> {
  const { request_id: _ignored, ...rest } = body;
  return rest;
}

/** Every header but x-request-id, sorted, for comparing two answers. */
export function headersWithoutRequestId(res: CallResult): [string, string][] {
  return [...res.headers].filter(([name]) => name !== 'x-request-id').sort(([a], [b]) => a.localeCompare(b));
}

/**
 * A logged-in person whose access token can be renewed without bcrypt (through the refresh endpoint),
 * so tests that move the clock past 15 minutes still get live tokens.
 */
export interface Person {
  readonly id: string;
  readonly email: string;
  readonly tenantId: string;
  /** A live access token of this person's login (rotates the refresh token). */
  token(): Promise<string>;
  /** The Authorization header of a live access token. */
  auth(): Promise<Record<string, string>>;
}

export function person(
  app: App,
  who: { id: string; email: string; tenantId: string },
  refreshToken: string,
): Person {
  let refresh = refreshToken;
  const token = async () => {
    const res = await send(app, 'POST', '/v1/auth/refresh', { json: { refresh_token: refresh } });
    assert.equal(res.status, 200, res.text);
    refresh = res.body.refresh_token;
    return res.body.access_token as string;
  };
  return { ...who, token, auth: async () => ({ authorization: `Bearer ${await token()}` }) };
}

/** A new, separate login (its own session) of a person whose password is STRONG_PASSWORD. */
export async function newLogin(
  app: App,
  email: string,
): Promise<{ accessToken: string; refreshToken: string }> {
  const res = await send(app, 'POST', '/v1/auth', { json: { email, password: STRONG_PASSWORD } });
  assert.equal(res.status, 200, res.text);
  return { accessToken: res.body.access_token, refreshToken: res.body.refresh_token };
}
