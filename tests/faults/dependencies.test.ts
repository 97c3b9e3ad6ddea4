/**
 * The service under dependency failures, as an operator would meet them: the real dev server runs as its
 * own process against a Postgres and a Redis this test starts itself (free ports, temp directories), and
 * under a bounded load of reads and write transactions the test kills and freezes each dependency (and,
 * on the Neon driver, cuts its WebSocket tunnels). For every fault:
 *
 * - the service process never exits;
 * - every answer while the dependency is down is a 503 problem+json with Retry-After (health: a 503 naming
 *   the part that is down), or a success that did complete; never a 500, never a hang;
 * - once the dependency is back, the service answers normally again without a restart;
 * - nothing is half-written: every tenant has its owner and its audit events, and every 201 is in the
 *   database.
 *
 * Durations are measured and printed as diagnostics (time to the first 503, slowest 503, time to
 * recovery); the only time bounds asserted are generous hang checks (see HANG_LIMIT_MS), never
 * performance: the machine is shared.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { type NeonWsProxy, startNeonWsProxy } from '../support/neon-ws-proxy.js';
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

const ADMIN_KEY = `adm_faults_${randomBytes(24).toString('hex')}`;
/**
 * A hang check, not a performance check: API.md promises a 503 within 2 seconds (and the figures printed
 * show it), but on a shared 2-core machine a request may queue behind others, so a request only fails the
 * test when it has not ENDED after this long.
 */
const HANG_LIMIT_MS = 5_000;
/** Likewise for recovery: the service must come back on its own; this only catches "never". */
const RECOVERY_LIMIT_MS = 5_000;
/** Concurrent requests in flight: enough to have write transactions open when a fault lands. */
const WORKERS = 4;
/** No loop runs past this many requests, whatever happens. */
const MAX_REQUESTS_PER_FAULT = 3_000;
const BASELINE_MS = 1_000;
const DOWN_MS = 3_000;
const AFTER_MS = 1_000;

const bindir = findPostgresBinaries();
const redisBinary = findRedisServer();
const skip = !bindir
  ? 'Postgres binaries (initdb, pg_ctl) not found: install PostgreSQL to run the fault test'
  : !redisBinary
    ? 'redis-server not found: install Redis to run the fault test'
    : false;

interface Outcome {
  readonly op: string;
  readonly started: number;
  readonly ended: number;
  /** HTTP status, or 'hang' (no answer within HANG_LIMIT_MS) or 'error' (connection refused/reset). */
  readonly status: number | 'hang' | 'error';
  readonly contentType: string | null;
  readonly code: string | null;
  readonly retryAfter: string | null;
  readonly body: unknown;
  readonly detail: string;
}

/** Requests go to the service on 127.0.0.1 only, from a bounded number of workers for a bounded time. */
class Load {
  readonly outcomes: Outcome[] = [];
  readonly createdTenantIds: string[] = [];
  #stopped = false;
  #done: Promise<void>;
  #count = 0;
  #knownTenant: string | null = null;

  constructor(private readonly service: Service) {
    this.#done = Promise.all(Array.from({ length: WORKERS }, (_, i) => this.#worker(i))).then(() => {});
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#done;
  }

  async #worker(index: number): Promise<void> {
    let turn = index;
    while (!this.#stopped && this.#count < MAX_REQUESTS_PER_FAULT) {
      this.#count += 1;
      const op = OPS[turn % OPS.length] as Op;
      turn += 1;
      await this.#request(op);
    }
  }

  async #request(op: Op): Promise<void> {
    const { method, path, body } = op.make(this.#knownTenant);
    const started = performance.now();
    let outcome: Omit<Outcome, 'ended'>;
    try {
      const res = await fetch(`${this.service.baseUrl}${path}`, {
        method,
        headers: { 'x-admin-key': ADMIN_KEY, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(HANG_LIMIT_MS),
      });
      const text = await res.text();
      let parsed: unknown = null;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
      const code = (parsed as { code?: unknown } | null)?.code;
      outcome = {
        op: op.name,
        started,
        status: res.status,
        contentType: res.headers.get('content-type'),
        code: typeof code === 'string' ? code : null,
        retryAfter: res.headers.get('retry-after'),
        body: parsed,
        detail: text.slice(0, 300),
      };
      if (op.name === 'create' && res.status === 201) {
        const id = (parsed as { tenant: { id: string } }).tenant.id;
        this.createdTenantIds.push(id);
        this.#knownTenant = id;
      }
    } catch (error) {
      const name = (error as Error).name;
      outcome = {
        op: op.name,
        started,
        status: name === 'TimeoutError' || name === 'AbortError' ? 'hang' : 'error',
        contentType: null,
        code: null,
        retryAfter: null,
        body: null,
        detail: String((error as Error).cause ?? error),
      };
    }
    this.outcomes.push({ ...outcome, ended: performance.now() });
  }
}

interface Op {
  readonly name: string;
  make(knownTenant: string | null): { method: string; path: string; body?: unknown };
}

/** Reads and write transactions, interleaved (POST /v1/tenants writes a tenant, its owner and two audit rows). */
const OPS: Op[] = [
  {
    name: 'create',
    make: () => {
      const tag = randomBytes(5).toString('hex');
      return {
        method: 'POST',
        path: '/v1/tenants',
        body: { name: `Fault ${tag}`, owner: { email: `owner-${tag}@faults.test`, name: 'Owner' } },
      };
    },
  },
  { name: 'list', make: () => ({ method: 'GET', path: '/v1/tenants?limit=5' }) },
  {
    name: 'read',
    make: (id) => ({ method: 'GET', path: id ? `/v1/tenants/${id}` : '/v1/tenants?limit=1' }),
  },
  { name: 'health', make: () => ({ method: 'GET', path: '/api/health' }) },
];

interface Fault {
  readonly name: string;
  /** Which part /api/health must report down while the fault lasts (null: a blip, nothing stays down). */
  readonly down: 'db' | 'ratelimit' | null;
  inject(): Promise<void>;
  /** Brings the dependency back; resolves when it is back (not when the service has noticed). */
  restore(): Promise<void>;
}

interface Figures {
  fault: string;
  requests: number;
  unavailable: number;
  firstUnavailableMs: number | null;
  slowestUnavailableMs: number | null;
  slowestDuringFaultMs: number;
  /** How long /api/health took to report the dependency down. */
  healthDownMs: number | null;
  over2s: number;
  /** The slowest request started while down: what it was and how it ended. */
  slowest: string;
  recoveryMs: number;
}

const report: Figures[] = [];

function isOk(outcome: Outcome): boolean {
  return typeof outcome.status === 'number' && outcome.status >= 200 && outcome.status < 300;
}

function describeOutcome(outcome: Outcome): string {
  return `${outcome.op} → ${outcome.status} after ${Math.round(outcome.ended - outcome.started)} ms: ${outcome.detail}`;
}

/** A correct answer while a dependency is down: a completed success, or the documented 503. */
function assertAcceptable(outcome: Outcome, fault: Fault): void {
  assert.notEqual(
    outcome.status,
    'hang',
    `no answer within ${HANG_LIMIT_MS} ms: ${describeOutcome(outcome)}`,
  );
  assert.notEqual(outcome.status, 'error', `connection failed: ${describeOutcome(outcome)}`);
  if (isOk(outcome)) return;
  assert.equal(outcome.status, 503, describeOutcome(outcome));
  if (outcome.op === 'health') {
    // Health answers its own JSON shape, naming the part that is down.
    const body = outcome.body as { status?: string; db?: string; ratelimit?: string };
    assert.equal(body.status, 'degraded', describeOutcome(outcome));
    if (fault.down) assert.equal(body[fault.down], 'down', describeOutcome(outcome));
    return;
  }
  assert.match(outcome.contentType ?? '', /^application\/problem\+json/, describeOutcome(outcome));
  assert.equal(outcome.code, 'service_unavailable', describeOutcome(outcome));
  assert.ok(Number(outcome.retryAfter) > 0, `Retry-After missing: ${describeOutcome(outcome)}`);
}

/** GET /api/health shortly after the fault, once the dependency is surely gone. */
async function probeHealth(
  service: Service,
): Promise<{ status: number; body: Record<string, string>; ms: number }> {
  await sleep(200);
  const started = performance.now();
  const res = await fetch(`${service.baseUrl}/api/health`, { signal: AbortSignal.timeout(HANG_LIMIT_MS) });
  const body = (await res.json()) as Record<string, string>;
  return { status: res.status, body, ms: performance.now() - started };
}

async function answersNormally(service: Service): Promise<boolean> {
  const signal = () => AbortSignal.timeout(HANG_LIMIT_MS);
  const health = await fetch(`${service.baseUrl}/api/health`, { signal: signal() });
  if (health.status !== 200) return false;
  const tag = randomBytes(5).toString('hex');
  const created = await fetch(`${service.baseUrl}/v1/tenants`, {
    method: 'POST',
    headers: { 'x-admin-key': ADMIN_KEY, 'content-type': 'application/json' },
    body: JSON.stringify({ name: `Probe ${tag}`, owner: { email: `probe-${tag}@faults.test`, name: 'P' } }),
    signal: signal(),
  });
  return created.status === 201;
}

/** Runs one fault under load and checks everything the header promises but the row counts. */
async function exercise(t: TestContext, service: Service, fault: Fault, load: { ids: string[] }) {
  const running = new Load(service);
  await sleep(BASELINE_MS);
  const injectedAt = performance.now();
  await fault.inject();
  // One health probe of our own while the fault lasts, besides the ones in the load.
  const probe = fault.down
    ? probeHealth(service).catch((error: unknown) => ({
        status: 0,
        body: { error: String(error) } as Record<string, string>,
        ms: 0,
      }))
    : null;
  await sleep(DOWN_MS);
  const health = await probe;
  await fault.restore();
  const restoredAt = performance.now();
  let recoveryMs: number;
  try {
    recoveryMs = await waitFor(`${fault.name}: recovery`, () => answersNormally(service), RECOVERY_LIMIT_MS);
  } finally {
    // Stopped whatever happens, so a failed recovery leaves no loop running.
    await sleep(AFTER_MS).then(() => running.stop());
    assert.equal(service.exited(), null, `the service ended: ${service.exited()}\n${service.output()}`);
  }
  const recoveredAt = restoredAt + recoveryMs;
  load.ids.push(...running.createdTenantIds);
  const { outcomes } = running;
  const baseline = outcomes.filter((o) => o.ended < injectedAt);
  const during = outcomes.filter((o) => o.ended >= injectedAt && o.started < recoveredAt);
  const afterwards = outcomes.filter((o) => o.started >= recoveredAt);
  assert.ok(baseline.length > 0 && during.length > 0 && afterwards.length > 0, 'the load ran in every phase');
  for (const outcome of baseline) assert.ok(isOk(outcome), `before the fault: ${describeOutcome(outcome)}`);
  for (const outcome of during) assertAcceptable(outcome, fault);
  for (const outcome of afterwards) assert.ok(isOk(outcome), `after recovery: ${describeOutcome(outcome)}`);

  const unavailable = during.filter((o) => o.status === 503);
  if (fault.down) {
    // A frozen dependency that only delays answers (no 503 at all while it lasts) is a hang.
    // With Redis down the admin key's quota fails open (API.md §3): /api/health (below) must say so.
    if (fault.down === 'db')
      assert.ok(unavailable.length > 0, `${fault.name}: the fault had no visible effect`);
    assert.ok(health, 'the health probe ran');
    assert.equal(
      health.status,
      503,
      `${fault.name}: /api/health: ${health.status} ${JSON.stringify(health.body)}`,
    );
    assert.equal(health.body[fault.down], 'down', `${fault.name}: ${JSON.stringify(health.body)}`);
  }
  const startedWhileDown = during.filter((o) => o.started >= injectedAt && o.started < restoredAt);
  const durations = (list: Outcome[]) => list.map((o) => o.ended - o.started);
  const figures: Figures = {
    fault: fault.name,
    requests: outcomes.length,
    unavailable: unavailable.length,
    firstUnavailableMs: unavailable.length ? Math.min(...unavailable.map((o) => o.ended)) - injectedAt : null,
    slowestUnavailableMs: unavailable.length ? Math.max(...durations(unavailable)) : null,
    slowestDuringFaultMs: Math.max(0, ...durations(startedWhileDown)),
    healthDownMs: health ? health.ms : null,
    over2s: durations(startedWhileDown).filter((ms) => ms > 2_000).length,
    slowest: slowestOf(startedWhileDown),
    recoveryMs,
  };
  report.push(figures);
  t.diagnostic(
    JSON.stringify(figures, (_key, value) => (typeof value === 'number' ? Math.round(value) : value)),
  );
}

function slowestOf(outcomes: Outcome[]): string {
  const slowest = [...outcomes].sort((a, b) => b.ended - b.started - (a.ended - a.started))[0];
  return slowest ? `${slowest.op} ${slowest.status}` : '-';
}

async function assertNothingHalfWritten(databaseUrl: string, createdIds: string[]): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ tenants: number; orphans: number; present: number }>(
      `select
         (select count(*)::int from tenants) as tenants,
         (select count(*)::int from tenants t where
            (select count(*) from users u where u.tenant_id = t.id and u.role = 'owner') <> 1
            or (select count(*) from audit_events a where a.tenant_id = t.id and a.action = 'tenant.created') <> 1
            or (select count(*) from audit_events a where a.tenant_id = t.id and a.action = 'team.member_added') <> 1
         ) as orphans,
         (select count(*)::int from tenants where id = any($1::uuid[])) as present`,
      [createdIds],
    );
    const counts = rows[0];
    assert.ok(counts && counts.tenants >= createdIds.length && createdIds.length > 0, JSON.stringify(counts));
    assert.equal(counts.orphans, 0, 'a tenant without exactly one owner and its two audit events');
    assert.equal(counts.present, createdIds.length, 'every tenant answered 201 was committed');
  } finally {
    await client.end();
  }
}

describe('dependency faults', { skip }, () => {
  let postgres: OwnPostgres | undefined;
  let redis: OwnRedis | undefined;

  before(async () => {
    postgres = await startOwnPostgres(bindir as string);
    redis = await startOwnRedis(redisBinary as string);
  });

  after(async () => {
    await postgres?.destroy();
    await redis?.destroy();
    if (report.length > 0) {
      console.log('fault figures (ms):');
      console.table(
        report.map((row) =>
          Object.fromEntries(
            Object.entries(row).map(([k, v]) => [k, typeof v === 'number' ? Math.round(v) : v]),
          ),
        ),
      );
    }
  });

  const dependencies = () => {
    if (!postgres || !redis) throw new Error('dependencies not started');
    return { postgres, redis };
  };

  const postgresFaults = (): Fault[] => [
    {
      name: 'postgres killed (pg_ctl stop -m immediate)',
      down: 'db',
      inject: () => dependencies().postgres.killImmediate(),
      restore: () => dependencies().postgres.start(),
    },
    {
      name: 'postgres frozen (SIGSTOP)',
      down: 'db',
      inject: () => dependencies().postgres.freeze(),
      restore: () => dependencies().postgres.thaw(),
    },
  ];
  const redisFaults = (): Fault[] => [
    {
      name: 'redis killed (SIGKILL)',
      down: 'ratelimit',
      inject: async () => dependencies().redis.kill(),
      restore: () => dependencies().redis.start(),
    },
    {
      name: 'redis frozen (SIGSTOP)',
      down: 'ratelimit',
      inject: async () => dependencies().redis.freeze(),
      restore: async () => dependencies().redis.thaw(),
    },
  ];

  for (const driver of ['pg', 'neon'] as const) {
    describe(`through the ${driver} driver`, () => {
      const database = `heir_faults_${driver}`;
      const created = { ids: [] as string[] };
      let service: Service | undefined;
      let proxy: NeonWsProxy | undefined;

      before(async () => {
        const { postgres, redis } = dependencies();
        const admin = new pg.Client({ connectionString: postgres.url() });
        await admin.connect();
        await admin.query(`CREATE DATABASE ${database}`);
        await admin.end();
        const env: Record<string, string> = {
          DATABASE_URL: postgres.url(database),
          REDIS_URL: redis.url,
          ADMIN_KEY,
          LOG_LEVEL: 'silent',
          DATA_DIR: 'memory',
          BCRYPT_COST: '10',
          // The bridge runs in the server's own busy event loop on a shared 2-core machine: at the 300 ms
          // default a slow moment reads as "Redis down". The bound itself is tested in tests/unit/outage.
          RATE_LIMIT_TIMEOUT_MS: '1000',
        };
        if (driver === 'neon') {
          proxy = await startNeonWsProxy({ targetPort: postgres.port });
          Object.assign(env, { DATABASE_DRIVER: 'neon', NEON_WS_PROXY: proxy.url });
        }
        service = await startService(env);
      });

      after(async () => {
        await service?.stop();
        await proxy?.close();
      });

      const running = () => {
        if (!service) throw new Error('service not started');
        return service;
      };

      const faults: Fault[] =
        driver === 'neon'
          ? [
              {
                name: 'neon: WebSocket tunnels cut',
                down: null,
                inject: async () => proxy?.dropConnections(),
                restore: async () => {},
              },
              ...postgresFaults(),
            ]
          : [...postgresFaults(), ...redisFaults()];

      for (const fault of faults) {
        it(`${fault.name}: 503 while down, never a crash or a hang, back on its own`, async (t) => {
          await exercise(t, running(), fault, created);
        });
      }

      it('left nothing half-written, and every 201 committed', async () => {
        assert.equal(running().exited(), null);
        await assertNothingHalfWritten(dependencies().postgres.url(database), created.ids);
      });
    });
  }
});
