/**
 * Redis down under load, by policy (issue 8, API.md §3): with a Redis and a Postgres of its own and the
 * real dev server as a process (tests/faults/processes.ts), Redis is killed, then frozen, while requests
 * run. Quotas fail OPEN: a key-authenticated GET keeps answering 200, counted by the instance's own
 * limiter, and so does a JWT request (its login, cached or not, is then checked in Postgres: no signal
 * can confirm a cached one). Security throttles fail CLOSED: a login answers 503 + Retry-After. /api/health says the
 * limiter is down. Nothing hangs, and all is as before once Redis is back. No timing is asserted beyond
 * the hang bound.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import {
  findPostgresBinaries,
  findRedisServer,
  type OwnPostgres,
  type OwnRedis,
  type Service,
  startOwnPostgres,
  startOwnRedis,
  startService,
  waitFor,
} from './processes.js';

const ADMIN_KEY = `adm_outage_${randomBytes(24).toString('hex')}`;
const HANG_LIMIT_MS = 5_000;
const WORKERS_PER_OP = 2;

const bindir = findPostgresBinaries();
const redisBinary = findRedisServer();
const skip = !bindir
  ? 'Postgres binaries not found: install PostgreSQL to run the fault test'
  : !redisBinary
    ? 'redis-server not found: install Redis to run the fault test'
    : false;

interface Outcome {
  readonly op: 'key' | 'me' | 'login' | 'health';
  readonly started: number;
  readonly ended: number;
  readonly status: number | 'hang' | 'error';
  readonly code: string | null;
  readonly retryAfter: string | null;
  readonly body: unknown;
}

/** An API key and a person's access token, the credentials of the `key` and `me` requests. */
interface Credentials {
  apiKey: string;
  accessToken: string;
}

async function request(service: Service, op: Outcome['op'], credentials: Credentials): Promise<Outcome> {
  const started = performance.now();
  const init: RequestInit =
    op === 'key'
      ? { headers: { 'x-api-key': credentials.apiKey } }
      : op === 'me'
        ? { headers: { authorization: `Bearer ${credentials.accessToken}` } }
        : op === 'login'
          ? {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ email: 'nobody@outage.test', password: 'not the password at all' }),
            }
          : {};
  const path = { key: '/v1/whoami', me: '/v1/auth/me', login: '/v1/auth', health: '/api/health' }[op];
  try {
    const res = await fetch(`${service.baseUrl}${path}`, {
      ...init,
      signal: AbortSignal.timeout(HANG_LIMIT_MS),
    });
    const body = (await res.json().catch(() => null)) as { code?: string } | null;
    return {
      op,
      started,
      ended: performance.now(),
      status: res.status,
      code: body?.code ?? null,
      retryAfter: res.headers.get('retry-after'),
      body,
    };
  } catch (error) {
    const name = (error as Error).name;
    const status = name === 'TimeoutError' || name === 'AbortError' ? 'hang' : 'error';
    return { op, started, ended: performance.now(), status, code: null, retryAfter: null, body: null };
  }
}

/** A login the throttle let through (wrong password: 401) or stopped (429): Redis answered either way. */
const isThrottleAnswer = (status: Outcome['status']) => status === 401 || status === 429;

/** One worker, 10 requests a second: health, and /me (a person may make 1,000 a window, both faults included). */
const paced = (op: Outcome['op']) => op === 'health' || op === 'me';

/** Keeps every op running from a few workers until stopped. */
function load(service: Service, credentials: Credentials) {
  const outcomes: Outcome[] = [];
  let stopped = false;
  const workers = (['key', 'me', 'login', 'health'] as const).flatMap((op) =>
    Array.from({ length: paced(op) ? 1 : WORKERS_PER_OP }, async () => {
      while (!stopped) {
        outcomes.push(await request(service, op, credentials));
        if (paced(op)) await sleep(100);
      }
    }),
  );
  return {
    outcomes,
    async stop() {
      stopped = true;
      await Promise.all(workers);
    },
  };
}

describe('Redis outage, by policy', { skip }, () => {
  let postgres: OwnPostgres | undefined;
  let redis: OwnRedis | undefined;
  let service: Service | undefined;
  const credentials: Credentials = { apiKey: '', accessToken: '' };

  before(async () => {
    postgres = await startOwnPostgres(bindir as string);
    redis = await startOwnRedis(redisBinary as string);
    const admin = new pg.Client({ connectionString: postgres.url() });
    await admin.connect();
    await admin.query('CREATE DATABASE heir_outage');
    await admin.end();
    service = await startService({
      DATABASE_URL: postgres.url('heir_outage'),
      REDIS_URL: redis.url,
      ADMIN_KEY,
      LOG_LEVEL: 'silent',
      DATA_DIR: 'memory',
      BCRYPT_COST: '10',
      // As in dependencies.test.ts: the bridge shares the server's busy event loop on a loaded machine.
      RATE_LIMIT_TIMEOUT_MS: '1000',
    });
    const headers = { 'x-admin-key': ADMIN_KEY, 'content-type': 'application/json' };
    const tenant = await fetch(`${service.baseUrl}/v1/tenants`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ name: 'Outage', owner: { email: 'owner@outage.test', name: 'Owner' } }),
    });
    assert.equal(tenant.status, 201);
    const created = (await tenant.json()) as {
      tenant: { id: string };
      owner: { temporary_password: string };
    };
    const tenantId = created.tenant.id;
    const session = await fetch(`${service.baseUrl}/v1/auth/set-password`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        email: 'owner@outage.test',
        temporary_password: created.owner.temporary_password,
        new_password: 'correct horse battery staple 42',
      }),
    });
    assert.equal(session.status, 200, await session.clone().text());
    credentials.accessToken = ((await session.json()) as { access_token: string }).access_token;
    const key = await fetch(`${service.baseUrl}/v1/tenants/${tenantId}/api-keys`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ name: 'Outage key', tier: 'internal', scopes: ['contracts'] }),
    });
    assert.equal(key.status, 201, await key.clone().text());
    credentials.apiKey = ((await key.json()) as { key: string }).key;
    // Every function module loaded once, so that the baseline phase measures answers, not start-up.
    for (const op of ['key', 'me', 'login', 'health'] as const) await request(service, op, credentials);
  });

  after(async () => {
    await service?.stop();
    await postgres?.destroy();
    await redis?.destroy();
  });

  const faults = [
    {
      name: 'killed (SIGKILL)',
      inject: async () => redis?.kill(),
      restore: async () => redis?.start(),
    },
    {
      name: 'frozen (SIGSTOP)',
      inject: async () => redis?.freeze(),
      restore: async () => redis?.thaw(),
    },
  ];

  for (const fault of faults) {
    it(`Redis ${fault.name}: key and JWT requests keep answering 200, logins answer 503, health says down`, async (t) => {
      const running = service as Service;
      const traffic = load(running, credentials);
      await sleep(2_000);
      const injected = performance.now();
      await fault.inject();
      // Requests in flight when the fault lands may go either way; judge those started after it settled.
      await sleep(1_000);
      const settled = performance.now();
      await sleep(3_000);
      const restoring = performance.now();
      await fault.restore();
      await waitFor(
        'limiter back',
        async () => isThrottleAnswer((await request(running, 'login', credentials)).status),
        HANG_LIMIT_MS * 2,
      );
      const recovered = performance.now();
      await sleep(2_000);
      await traffic.stop();
      assert.equal(running.exited(), null, running.output());

      const { outcomes } = traffic;
      for (const o of outcomes)
        assert.ok(o.status !== 'hang' && o.status !== 'error', `${o.op}: ${o.status}`);
      const before = outcomes.filter((o) => o.ended < injected);
      const during = outcomes.filter((o) => o.started >= settled && o.ended < restoring);
      const afterwards = outcomes.filter((o) => o.started >= recovered);
      const of = (list: Outcome[], op: Outcome['op']) => list.filter((o) => o.op === op);
      for (const phase of [before, during, afterwards]) {
        assert.ok(
          of(phase, 'key').length > 0 && of(phase, 'me').length > 0 && of(phase, 'login').length > 0,
          `the load ran in every phase (key, me, login answers before/during/after): ${JSON.stringify(
            [before, during, afterwards].map((list) => [
              of(list, 'key').length,
              of(list, 'me').length,
              of(list, 'login').length,
            ]),
          )}`,
        );
      }
      for (const phase of [before, afterwards]) {
        for (const o of of(phase, 'key')) assert.equal(o.status, 200, JSON.stringify(o.body));
        for (const o of of(phase, 'login')) assert.ok(isThrottleAnswer(o.status), JSON.stringify(o.body));
      }
      for (const o of of(during, 'key'))
        assert.equal(o.status, 200, `quota fails open: ${JSON.stringify(o.body)}`);
      for (const o of [...before, ...during, ...afterwards].filter((x) => x.op === 'me'))
        assert.equal(
          o.status,
          200,
          `a JWT request: quota open, login from Postgres: ${JSON.stringify(o.body)}`,
        );
      for (const o of of(during, 'login')) {
        assert.equal(o.status, 503, `throttle fails closed: ${JSON.stringify(o.body)}`);
        assert.equal(o.code, 'service_unavailable');
        assert.ok(Number(o.retryAfter) > 0, 'Retry-After');
      }
      const health = of(during, 'health');
      assert.ok(health.length > 0);
      for (const o of health) {
        assert.equal(o.status, 503);
        assert.equal((o.body as { ratelimit?: string }).ratelimit, 'down');
      }
      const slowest = (op: Outcome['op']) =>
        Math.round(Math.max(...of(during, op).map((o) => o.ended - o.started)));
      t.diagnostic(
        JSON.stringify({
          fault: fault.name,
          requests: outcomes.length,
          keyDuringOutage: of(during, 'key').length,
          slowestKeyMs: slowest('key'),
          slowestLoginMs: slowest('login'),
        }),
      );
    });
  }
});
