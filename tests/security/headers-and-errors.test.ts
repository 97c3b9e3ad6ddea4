/**
 * What every answer carries and what no answer gives away: secrets sent in a body, stack traces, SQL
 * (API.md §2, DESIGN.md house style 3 and 6), the caching and sniffing headers, and CORS.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { it } from 'node:test';
import { sql } from 'kysely';
import { allEndpoints } from '../../lib/endpoints.js';
import { createLogger } from '../../lib/log.js';
import { asAdmin, type CallResult } from '../support/client.js';
import { ownerSession, uniqueEmail } from '../support/fixtures.js';
import { forEachBackend } from '../support/harness.js';
import {
  expectProblem,
  headersWithoutRequestId,
  STACK_OR_SQL,
  secretLike,
  send,
  withoutRequestId,
} from '../support/security.js';

const lines: string[] = [];
const PORTAL = 'https://portal.heir.test';

/** Every endpoint's path with random ids; POST, PUT and PATCH get an empty JSON body. */
function everyEndpoint() {
  return allEndpoints().map((endpoint) => ({
    endpoint,
    path: endpoint.path.replace(/\{\w+\}/g, () => randomUUID()),
    json: ['POST', 'PUT', 'PATCH'].includes(endpoint.method) ? {} : undefined,
  }));
}

function assertBaseHeaders(res: CallResult, what: string): void {
  assert.match(res.headers.get('x-content-type-options') ?? '', /^nosniff$/, what);
  assert.match(res.headers.get('x-request-id') ?? '', /^req_/, what);
  assert.equal(res.headers.get('cache-control'), 'no-store', what);
}

forEachBackend(
  'errors give nothing away',
  (ctx) => {
    it('a 422 for a login body does not echo the password, nor a password typed into the email field', async () => {
      const password = `${secretLike('Pa55word')}${'q'.repeat(130)}`;
      const tooLong = await send(ctx.app, 'POST', '/v1/auth', { json: { email: uniqueEmail(), password } });
      expectProblem(tooLong, 422, 'validation_failed', [password.slice(0, 30)]);
      assert.deepEqual(
        tooLong.body.errors.map((error: { path: string }) => error.path),
        ['password'],
      );
      const inEmail = `${secretLike('typed-into-email')}${'e'.repeat(320)}`;
      const wrongField = await send(ctx.app, 'POST', '/v1/auth', {
        json: { email: inEmail, password: 12345678 },
      });
      expectProblem(wrongField, 422, 'validation_failed', [inEmail.slice(0, 30)]);
      const shortNew = secretLike('S');
      const setPassword = await send(ctx.app, 'POST', '/v1/auth/set-password', {
        json: { email: uniqueEmail(), temporary_password: shortNew, new_password: 'password' },
      });
      expectProblem(setPassword, 422, 'validation_failed', [shortNew]);
    });

    it('a broken JSON body, a wrong media type or an oversized body holding a password do not echo it', async () => {
      const password = secretLike('Leaky-Pa55word');
      const broken = await send(ctx.app, 'POST', '/v1/auth', {
        headers: { 'content-type': 'application/json' },
        body: `{"email":"a@example.com","password":"${password}"`,
      });
      expectProblem(broken, 400, 'invalid_json', [password]);
      const plain = await send(ctx.app, 'POST', '/v1/auth', {
        headers: { 'content-type': 'text/plain' },
        body: JSON.stringify({ email: 'a@example.com', password }),
      });
      expectProblem(plain, 415, 'unsupported_media_type', [password]);
      const huge = await send(ctx.app, 'POST', '/v1/auth', {
        json: { email: 'a@example.com', password, padding: 'p'.repeat(70_000) },
      });
      expectProblem(huge, 413, 'payload_too_large', [password]);
    });

    it('a NUL byte in a login email is a wrong email (401 invalid_credentials), not a database error', async () => {
      const nul = 'a\u0000b@example.com';
      const unknown = await send(ctx.app, 'POST', '/v1/auth', {
        json: { email: uniqueEmail(), password: 'whatever-1' },
      });
      const login = await send(ctx.app, 'POST', '/v1/auth', { json: { email: nul, password: 'whatever-1' } });
      expectProblem(login, 401, 'invalid_credentials');
      assert.deepEqual(withoutRequestId(login.body), withoutRequestId(unknown.body));
      const setPassword = await send(ctx.app, 'POST', '/v1/auth/set-password', {
        json: { email: nul, temporary_password: 'whatever-1', new_password: 'a new and long password' },
      });
      expectProblem(setPassword, 401, 'invalid_credentials');
      lines.length = 0;
      const forgot = await send(ctx.app, 'POST', '/v1/auth/forgot-password', { json: { email: nul } });
      assert.equal(forgot.status, 202, forgot.text);
      await ctx.app.settle();
      assert.deepEqual(
        lines.filter((line) => JSON.parse(line).level === 'error'),
        [],
      );
    });

    it('error answers of every kind are problem+json without stack traces or SQL', async () => {
      const cases: [string, string, Record<string, unknown>, number, string][] = [
        ['GET', '/v1/auth/me', {}, 401, 'missing_credentials'],
        [
          'GET',
          '/v1/auth/me',
          { headers: { ...asAdmin, authorization: 'Bearer x.y.z' } },
          400,
          'ambiguous_credentials',
        ],
        ['GET', '/v1/auth/no-such-thing', {}, 404, 'not_found'],
        ['GET', '/v1/tenants/not-a-uuid', { headers: asAdmin }, 404, 'not_found'],
        ['GET', `/v1/tenants/${randomUUID()}`, { headers: asAdmin }, 404, 'not_found'],
        ['DELETE', '/v1/auth/me', {}, 405, 'method_not_allowed'],
        ['GET', '/v1/tenants?limit=1000', { headers: asAdmin }, 422, 'validation_failed'],
        [
          'GET',
          '/v1/tenants?cursor=%00%27%3B%20DROP%20TABLE%20users',
          { headers: asAdmin },
          422,
          'validation_failed',
        ],
        [
          'GET',
          `/v1/auth/validate-reset-token/${"'; select 1 --".padEnd(20, 'x')}`,
          {},
          400,
          'invalid_reset_token',
        ],
        [
          'POST',
          '/v1/tenants',
          { headers: asAdmin, json: { name: "x'); DROP TABLE tenants;--" } },
          422,
          'validation_failed',
        ],
      ];
      for (const [method, path, options, status, code] of cases) {
        const res = await send(ctx.app, method, path, options);
        expectProblem(res, status, code);
      }
    });

    it('an unknown path under /v1 or /api is our 404 problem with the usual headers, as Vercel routes it', async () => {
      const paths = [
        '/v1/nope',
        '/api/nope',
        '/api/v1/nope',
        '/v1/nope/deeper/still',
        '/api/v1/keys-that-do-not-exist/x',
        '/v1',
        '/v1/',
        '/api',
        '/api/',
        '/api/meta',
        '/API/NOPE',
      ];
      for (const path of paths) {
        for (const method of ['GET', 'POST', 'DELETE']) {
          const res = await send(ctx.app, method, path);
          expectProblem(res, 404, 'not_found');
          assertBaseHeaders(res, `${method} ${path}`);
          assert.equal(res.headers.get('referrer-policy'), 'no-referrer', path);
          assert.equal(res.headers.get('x-frame-options'), 'DENY', path);
        }
      }
      // Outside /v1 and /api the platform answers, as Vercel does, with its own page.
      const elsewhere = await send(ctx.app, 'GET', '/nope');
      assert.equal(elsewhere.status, 404);
      assert.equal(elsewhere.headers.get('x-vercel-error'), 'NOT_FOUND');
    });

    it('static pages carry the strict CSP, DENY framing, nosniff and no referrer from vercel.json', async () => {
      for (const path of ['/', '/docs/errors', '/styles.css']) {
        const res = await send(ctx.app, 'GET', path);
        assert.equal(res.status, 200, path);
        assert.equal(
          res.headers.get('content-security-policy'),
          "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; " +
            "base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
          path,
        );
        assert.equal(res.headers.get('x-frame-options'), 'DENY', path);
        assert.equal(res.headers.get('x-content-type-options'), 'nosniff', path);
        assert.equal(res.headers.get('referrer-policy'), 'no-referrer', path);
      }
      const page = await send(ctx.app, 'GET', '/docs/errors');
      assert.match(page.text, /<link rel="stylesheet" href="\/styles\.css">/);
      assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    });

    it('every answer of every endpoint carries cache-control: no-store and nosniff (JWKS: public, cacheable)', async () => {
      const { session, tenantId } = await ownerSession(ctx.app);
      const credentials = [{}, asAdmin, session.auth];
      for (const { endpoint, path, json } of everyEndpoint()) {
        for (const headers of credentials) {
          // Logout would end the session the next endpoints use; its answers are checked last, below.
          if (endpoint.path === '/v1/auth/logout' && headers === session.auth) continue;
          const res = await send(
            ctx.app,
            endpoint.method,
            path.replace(/^(\/v1\/tenants\/)[^/]+/, `$1${tenantId}`),
            {
              headers,
              ...(json ? { json } : {}),
            },
          );
          const what = `${endpoint.method} ${endpoint.path} → ${res.status}`;
          if (endpoint.path === '/.well-known/jwks.json') {
            // Public keys, deliberately cacheable for a few minutes (a new key is published before it signs).
            assert.equal(res.headers.get('cache-control'), 'public, max-age=300', what);
            assert.equal(res.headers.get('x-content-type-options'), 'nosniff', what);
          } else {
            assertBaseHeaders(res, what);
          }
        }
      }
      const extra = [
        await send(ctx.app, 'HEAD', '/v1/auth/me', { headers: session.auth }),
        await send(ctx.app, 'OPTIONS', '/v1/auth/me'),
        await send(ctx.app, 'GET', '/v1/tenants/x/nothing/here'),
        await send(ctx.app, 'PUT', '/v1/auth/me'),
        await send(ctx.app, 'POST', '/v1/auth/logout', { headers: session.auth }),
      ];
      assert.deepEqual(
        extra.map((res) => res.status),
        [200, 204, 404, 405, 204],
      );
      for (const res of extra) assertBaseHeaders(res, `extra ${res.status}`);
    });
  },
  { options: { log: createLogger('debug', (line) => lines.push(line)) } },
);

forEachBackend(
  'an internal error',
  (ctx) => {
    it('is a 500 with a request id and no internals; the details go to the log under that id', async () => {
      // This app is this test's alone: break it the way a bad migration would.
      await sql`DROP TABLE password_reset_tokens`.execute(ctx.app.db);
      lines.length = 0;
      const res = await send(ctx.app, 'GET', `/v1/auth/validate-reset-token/${'t'.repeat(43)}`);
      expectProblem(res, 500, 'internal_error');
      assert.doesNotMatch(res.text, /password_reset_tokens|relation|does not exist|42P01/);
      assert.doesNotMatch(res.text, STACK_OR_SQL);
      const logged = lines.map((line) => JSON.parse(line)).find((line) => line.level === 'error');
      assert.equal(logged?.requestId, res.body.request_id, lines.join('\n'));
      assert.match(JSON.stringify(logged), /password_reset_tokens/);
    });
  },
  { options: { log: createLogger('debug', (line) => lines.push(line)) } },
);

forEachBackend(
  'CORS',
  (ctx) => {
    const preflight = (origin: string) =>
      send(ctx.app, 'OPTIONS', '/v1/auth/me', {
        headers: {
          origin,
          'access-control-request-method': 'GET',
          'access-control-request-headers': 'authorization',
        },
      });

    it('an Origin outside CORS_ORIGINS is never reflected, on answers or preflights', async () => {
      const hostile = [
        'https://evil.example',
        'null',
        `${PORTAL}.evil.example`,
        'https://evil-portal.heir.test',
        'http://portal.heir.test',
        `${PORTAL}:8443`,
        'https://PORTAL.heir.test',
      ];
      for (const origin of hostile) {
        const answers = [
          await send(ctx.app, 'GET', '/api/health', { headers: { origin } }),
          await send(ctx.app, 'GET', '/v1/auth/me', { headers: { origin } }),
          await preflight(origin),
        ];
        for (const res of answers) {
          for (const name of [
            'access-control-allow-origin',
            'access-control-allow-credentials',
            'access-control-allow-methods',
            'access-control-allow-headers',
          ]) {
            assert.equal(res.headers.get(name), null, `${origin} → ${name}`);
          }
        }
      }
    });

    it('an Origin in CORS_ORIGINS is reflected exactly, without credentials mode', async () => {
      const health = await send(ctx.app, 'GET', '/api/health', { headers: { origin: PORTAL } });
      const refused = await send(ctx.app, 'GET', '/v1/auth/me', { headers: { origin: PORTAL } });
      for (const res of [health, refused]) {
        assert.equal(res.headers.get('access-control-allow-origin'), PORTAL);
        assert.match(res.headers.get('vary') ?? '', /origin/i, 'shared caches keep origins apart');
        assert.match(res.headers.get('access-control-expose-headers') ?? '', /x-request-id/);
        assert.equal(res.headers.get('access-control-allow-credentials'), null);
      }
      const pre = await preflight(PORTAL);
      assert.equal(pre.status, 204);
      assert.equal(pre.headers.get('access-control-allow-origin'), PORTAL);
      assert.match(pre.headers.get('access-control-allow-methods') ?? '', /\bGET\b/);
      assert.match(pre.headers.get('access-control-allow-headers') ?? '', /\bauthorization\b/);
      // Without an Origin, nothing CORS-related is added.
      const none = await send(ctx.app, 'GET', '/api/health');
      assert.deepEqual(
        headersWithoutRequestId(none).filter(([name]) => name.startsWith('access-control-')),
        [],
      );
    });
  },
  { env: { CORS_ORIGINS: PORTAL } },
);
