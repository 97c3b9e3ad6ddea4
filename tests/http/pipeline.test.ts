import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { createApp } from '../../lib/app.js';
import { loadConfig } from '../../lib/config.js';
import { defineEndpoint } from '../../lib/http/endpoint.js';
import { handleRequest, refuseMethod } from '../../lib/http/pipeline.js';
import { createRouter } from '../../lib/http/router.js';
import { createLogger } from '../../lib/log.js';
import { policies } from '../../lib/ratelimit/policies.js';
import { TEST_ADMIN_KEY } from '../support/backends.js';
import { asAdmin, call } from '../support/client.js';
import { forEachBackend } from '../support/harness.js';

const SECOND_ADMIN_KEY = 'second-admin-key-for-rotation-0123456789';
const lines: string[] = [];

forEachBackend(
  'request pipeline',
  (ctx) => {
    it('answers an unknown path with a 404 problem carrying the request id', async () => {
      const res = await call(
        ctx.app,
        'GET',
        '/v1/tenants/00000000-0000-4000-8000-000000000000/nothing-here',
        { headers: asAdmin },
      );
      assert.equal(res.status, 404);
      assert.equal(res.headers.get('content-type'), 'application/problem+json');
      assert.equal(res.body.type, '/docs/errors#not_found');
      assert.equal(res.body.code, 'not_found');
      assert.equal(res.body.status, 404);
      assert.match(res.body.request_id, /^req_[\w-]{16}$/);
      assert.equal(res.headers.get('x-request-id'), res.body.request_id);
    });

    it('answers a known path with the wrong method with 405 and Allow', async () => {
      const res = await call(ctx.app, 'DELETE', '/v1/tenants', { headers: asAdmin });
      assert.equal(res.status, 405);
      assert.equal(res.body.code, 'method_not_allowed');
      assert.equal(res.headers.get('allow'), 'GET, POST, HEAD, OPTIONS');
      const options = await call(ctx.app, 'OPTIONS', '/v1/tenants/');
      assert.equal(options.status, 204);
      assert.equal(options.headers.get('allow'), 'GET, POST, HEAD, OPTIONS');
    });

    it('answers any method a path does not serve (TRACE, PROPFIND, lowercase) with 405 and Allow; on an unknown path 404', async () => {
      for (const method of ['TRACE', 'CONNECT', 'TRACK', 'PROPFIND', 'PURGE', 'patch', 'Delete', 'QUERY']) {
        const known = await call(ctx.app, method, '/v1/tenants', { headers: asAdmin });
        assert.equal(known.status, 405, `${method}: ${known.text}`);
        assert.equal(known.body.code, 'method_not_allowed', method);
        assert.equal(known.headers.get('allow'), 'GET, POST, HEAD, OPTIONS', method);
        assert.match(known.headers.get('x-request-id') ?? '', /^req_/, method);
        const unknown = await call(ctx.app, method, '/v1/nope');
        assert.equal(unknown.status, 404, `${method}: ${unknown.text}`);
        assert.equal(unknown.body.code, 'not_found', method);
      }
      // The pipeline itself, for a method a Fetch Request can carry but no endpoint uses.
      const router = createRouter([
        defineEndpoint({
          method: 'GET',
          path: '/v1/only-get',
          summary: 'test only',
          tags: [],
          auth: 'none',
          response: { status: 200, description: 'ok' },
          handler: async () => ({ ok: true }),
        }),
      ]);
      const res = await handleRequest(
        ctx.app,
        router,
        new Request('https://heir.test/v1/only-get', { method: 'PROPFIND' }),
      );
      assert.equal(res.status, 405);
      assert.equal(res.headers.get('allow'), 'GET, HEAD, OPTIONS');
      assert.equal(res.headers.get('content-type'), 'application/problem+json');
      const trace = refuseMethod(ctx.app, router, new URL('https://heir.test/v1/only-get'), null);
      assert.equal(trace.status, 405);
      assert.equal(trace.headers.get('allow'), 'GET, HEAD, OPTIONS');
      assert.match(trace.headers.get('x-request-id') ?? '', /^req_/);
      assert.equal(refuseMethod(ctx.app, router, new URL('https://heir.test/v1/other'), null).status, 404);
    });

    it('serves /v1, /api/v1 and trailing slashes alike, and HEAD without a body', async () => {
      for (const path of ['/v1/tenants', '/v1/tenants/', '/api/v1/tenants', '/api/v1/tenants/']) {
        const res = await call(ctx.app, 'GET', path, { headers: asAdmin });
        assert.equal(res.status, 200, path);
        assert.ok(Array.isArray(res.body.data), path);
      }
      const head = await call(ctx.app, 'HEAD', '/api/health');
      assert.equal(head.status, 200);
      assert.equal(head.text, '');
    });

    it('refuses bodies that are too large, not JSON, or malformed', async () => {
      const big = JSON.stringify({ name: 'x'.repeat(70 * 1024) });
      const tooLarge = await call(ctx.app, 'POST', '/v1/tenants', {
        headers: { ...asAdmin, 'content-type': 'application/json' },
        body: big,
      });
      assert.equal(tooLarge.status, 413);
      assert.equal(tooLarge.body.code, 'payload_too_large');
      const lying = await call(ctx.app, 'POST', '/v1/tenants', {
        headers: { ...asAdmin, 'content-type': 'application/json', 'content-length': '10' },
        body: big,
      });
      assert.equal(lying.status, 413, 'the limit holds while streaming, whatever Content-Length says');
      const form = await call(ctx.app, 'POST', '/v1/tenants', {
        headers: { ...asAdmin, 'content-type': 'application/x-www-form-urlencoded' },
        body: 'name=x',
      });
      assert.equal(form.status, 415);
      assert.equal(form.body.code, 'unsupported_media_type');
      const broken = await call(ctx.app, 'POST', '/v1/tenants', {
        headers: { ...asAdmin, 'content-type': 'application/json' },
        body: '{"name": "x", "owner": {"email": "a@b.c", "password": "hunter2hunter2"',
      });
      assert.equal(broken.status, 400);
      assert.equal(broken.body.code, 'invalid_json');
      assert.ok(!broken.text.includes('hunter2hunter2'));
    });

    it('admin key: missing → 401, wrong → 401 with WWW-Authenticate, either of two configured keys works', async () => {
      const missing = await call(ctx.app, 'GET', '/v1/tenants');
      assert.equal(missing.status, 401);
      assert.equal(missing.body.code, 'missing_credentials');
      const wrong = await call(ctx.app, 'GET', '/v1/tenants', {
        headers: { 'x-admin-key': `${TEST_ADMIN_KEY}x` },
      });
      assert.equal(wrong.status, 401);
      assert.equal(wrong.body.code, 'invalid_admin_key');
      assert.match(wrong.headers.get('www-authenticate') ?? '', /realm="heir-admin"/);
      assert.ok(!wrong.text.includes(TEST_ADMIN_KEY));
      const second = await call(ctx.app, 'GET', '/v1/tenants', {
        headers: { 'x-admin-key': SECOND_ADMIN_KEY },
      });
      assert.equal(second.status, 200);
    });

    it('rejects credentials in the URL and more than one credential', async () => {
      const inUrl = await call(ctx.app, 'GET', `/v1/tenants?x-api-key=abc`, { headers: asAdmin });
      assert.equal(inUrl.status, 400);
      assert.equal(inUrl.body.code, 'credentials_in_url');
      const both = await call(ctx.app, 'GET', '/v1/tenants', {
        headers: { ...asAdmin, authorization: 'Bearer abc.def.ghi' },
      });
      assert.equal(both.status, 400);
      assert.equal(both.body.code, 'ambiguous_credentials');
    });

    it('counts the admin key against its 10,000-per-window limit and reports it in both header styles', async () => {
      const res = await call(ctx.app, 'GET', '/v1/tenants', { headers: { 'x-admin-key': SECOND_ADMIN_KEY } });
      assert.equal(res.headers.get('x-ratelimit-limit'), '10000');
      const remaining = Number(res.headers.get('x-ratelimit-remaining'));
      assert.ok(remaining < 10000 && remaining >= 9990, String(remaining));
      const reset = Number(res.headers.get('x-ratelimit-reset'));
      assert.equal(reset % 900, 0, 'windows end at :00, :15, :30 or :45');
      assert.equal(res.headers.get('ratelimit-policy'), '"admin";q=10000;w=900');
      assert.match(res.headers.get('ratelimit') ?? '', new RegExp(`^"admin";r=${remaining};t=\\d+$`));
    });

    it('refuses with 429 and Retry-After once the window is full', async () => {
      const { verifyAdminKey } = await import('../../lib/auth/admin-key.js');
      const caller = verifyAdminKey(TEST_ADMIN_KEY, [TEST_ADMIN_KEY]);
      assert.equal(caller.kind, 'admin_key');
      if (caller.kind !== 'admin_key') return;
      await ctx.app.limiter.limit(policies.admin, caller.keyId, 10_000);
      const res = await call(ctx.app, 'GET', '/v1/tenants', { headers: asAdmin });
      assert.equal(res.status, 429);
      assert.equal(res.body.code, 'rate_limited');
      const retryAfter = Number(res.headers.get('retry-after'));
      const t = Number(/t=(\d+)/.exec(res.headers.get('ratelimit') ?? '')?.[1]);
      assert.ok(retryAfter >= 1 && retryAfter >= t, `${retryAfter} vs ${t}`);
      assert.equal(res.headers.get('x-ratelimit-remaining'), '0');
    });

    it('counts failed credentials against the client IP, not the key; past 100 the IP gets 429', async () => {
      const ip = '198.51.100.77';
      await ctx.app.limiter.limit(policies.authFailuresByIp, ip, 99);
      const hundredth = await call(ctx.app, 'GET', '/v1/tenants', {
        headers: { 'x-admin-key': 'nope'.repeat(10) },
        ip,
      });
      assert.equal(hundredth.status, 401);
      const past = await call(ctx.app, 'GET', '/v1/tenants', {
        headers: { 'x-admin-key': 'nope'.repeat(10) },
        ip,
      });
      assert.equal(past.status, 429);
      assert.equal(past.headers.get('ratelimit-policy'), '"auth_failures";q=100;w=900');
      const elsewhere = await call(ctx.app, 'GET', '/v1/tenants', {
        headers: { 'x-admin-key': 'nope'.repeat(10) },
        ip: '198.51.100.78',
      });
      assert.equal(elsewhere.status, 401);
      const valid = await call(ctx.app, 'GET', '/v1/tenants', {
        headers: { 'x-admin-key': SECOND_ADMIN_KEY },
        ip,
      });
      assert.equal(valid.status, 200, 'a valid credential from that IP still works');
    });

    it('counts an IPv6 client by its /64: two addresses of one /64 share a bucket, of two /64s do not', async () => {
      const prefix = `2001:db8:${randomBytes(2).toString('hex')}:${randomBytes(2).toString('hex')}`;
      const fail = (ip: string) =>
        call(ctx.app, 'GET', '/v1/tenants', { headers: { 'x-admin-key': 'nope'.repeat(10) }, ip });
      const remaining = (res: { headers: Headers }) => Number(res.headers.get('x-ratelimit-remaining'));
      const first = await fail(`${prefix}::1`);
      assert.equal(first.status, 401);
      assert.equal(first.headers.get('ratelimit-policy'), '"auth_failures";q=100;w=900');
      assert.equal(remaining(first), 99);
      const sameHost = await fail(`${prefix}:${randomBytes(2).toString('hex')}:1:2:3`);
      assert.equal(remaining(sameHost), 98, 'another address of the same /64 is the same client');
      const mapped = await fail('::ffff:198.51.100.79');
      const plain = await fail('198.51.100.79');
      assert.equal(remaining(plain), remaining(mapped) - 1, 'an IPv4-mapped address counts as the IPv4 one');
      const nextNetwork = await fail(
        `${prefix.slice(0, -4)}${(Number.parseInt(prefix.slice(-4), 16) ^ 1).toString(16).padStart(4, '0')}::1`,
      );
      assert.equal(remaining(nextNetwork), 99, 'the neighbouring /64 is another client');
    });

    it('turns an unexpected exception into a 500 problem without internals, logged once with the request id', async () => {
      const router = createRouter([
        defineEndpoint({
          method: 'GET',
          path: '/v1/explode',
          summary: 'test only',
          tags: [],
          auth: 'none',
          response: { status: 200, description: 'never' },
          handler: async () => {
            throw new Error('db password=hunter2hunter2 at /srv/lib/secret.ts:12');
          },
        }),
      ]);
      const before = lines.length;
      const response = await handleRequest(ctx.app, router, new Request('https://heir.test/v1/explode'));
      const body = await response.json();
      assert.equal(response.status, 500);
      assert.equal(body.code, 'internal_error');
      assert.ok(!JSON.stringify(body).includes('hunter2'));
      assert.ok(!JSON.stringify(body).includes('secret.ts'));
      const logged = lines.slice(before).map((line) => JSON.parse(line));
      assert.equal(logged.length, 1);
      assert.equal(logged[0].request_id ?? logged[0].requestId, body.request_id);
    });

    it('reports health', async () => {
      const res = await call(ctx.app, 'GET', '/api/health/');
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, { status: 'ok', db: 'ok', ratelimit: 'ok' });
    });
  },
  {
    env: { ADMIN_KEY: `${TEST_ADMIN_KEY},${SECOND_ADMIN_KEY}` },
    options: { log: createLogger('error', (line) => lines.push(line)) },
  },
);

const limiterDown = { UPSTASH_REDIS_REST_URL: 'http://127.0.0.1:9', UPSTASH_REDIS_REST_TOKEN: 'x' };

forEachBackend(
  'a rate limiter that is down',
  (ctx) => {
    it('quotas fail open to the instance, throttles fail closed (503 + Retry-After); health says down', async () => {
      const quota = await call(ctx.app, 'GET', '/v1/tenants', { headers: asAdmin });
      assert.equal(quota.status, 200, quota.text);
      assert.equal(quota.headers.get('ratelimit-policy'), '"admin";q=10000;w=900');
      const login = await call(ctx.app, 'POST', '/v1/auth', {
        json: { email: 'nobody@example.com', password: 'not the password at all' },
      });
      assert.equal(login.status, 503, login.text);
      assert.equal(login.body.code, 'service_unavailable');
      assert.ok(Number(login.headers.get('retry-after')) > 0);
      const health = await call(ctx.app, 'GET', '/api/health');
      assert.equal(health.status, 503);
      assert.deepEqual(health.body, { status: 'degraded', db: 'ok', ratelimit: 'down' });
    });
  },
  { env: limiterDown },
);

forEachBackend(
  'a rate limiter that is down, with RATE_LIMIT_ON_OUTAGE=closed',
  (ctx) => {
    it('fails every policy closed: 503 service_unavailable with Retry-After', async () => {
      const res = await call(ctx.app, 'GET', '/v1/tenants', { headers: asAdmin });
      assert.equal(res.status, 503);
      assert.equal(res.body.code, 'service_unavailable');
      assert.ok(Number(res.headers.get('retry-after')) > 0);
    });
  },
  { env: { ...limiterDown, RATE_LIMIT_ON_OUTAGE: 'closed' } },
);

describe('a database that is down', () => {
  it('answers 503 service_unavailable (not 500) and health reports db down', async () => {
    const app = await createApp(
      loadConfig({
        ADMIN_KEY: TEST_ADMIN_KEY,
        LOG_LEVEL: 'silent',
        DATABASE_URL: 'postgres://nobody@127.0.0.1:9/none',
      }),
      { migrate: false },
    );
    try {
      const res = await call(app, 'GET', '/v1/tenants', { headers: asAdmin });
      assert.equal(res.status, 503);
      assert.equal(res.body.code, 'service_unavailable');
      assert.ok(!res.text.includes('nobody'), 'the connection string never leaks');
      const health = await call(app, 'GET', '/api/health');
      assert.equal(health.status, 503);
      assert.equal(health.body.db, 'down');
    } finally {
      await app.close();
    }
  });
});
