/**
 * `npm run bench`: prints figures, asserts nothing (targets live here, not in timed tests).
 * Runs in-process through the same routing and pipeline as production, on the embedded backend and,
 * when DATABASE_URL / REDIS_URL are set, on Postgres + Redis (through the Upstash REST bridge).
 * `--quick` runs fewer iterations (CI uses it to keep the benchmark working); `npm run bench --quick`
 * and `npm run bench -- --quick` both work.
 */
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import bcrypt from 'bcryptjs';
import { sql } from 'kysely';
import type { App } from '../lib/app.js';
import { answerRequest } from '../lib/http/pipeline.js';
import { signAccessToken, verifyAccessToken } from '../lib/identity/access-token.js';
import { KeyCache, verifyApiKeyCached } from '../lib/keys/key-cache.js';
import { generateApiKey, parseApiKey } from '../lib/keys/key-format.js';
import { verifyApiKey } from '../lib/keys/verify.js';
import { createMemoryLimiter } from '../lib/ratelimit/memory.js';
import { policies } from '../lib/ratelimit/policies.js';
import { testBackends } from '../tests/support/backends.js';
import { asAdmin, call } from '../tests/support/client.js';
import { createTenant, logIn, ownerSession } from '../tests/support/fixtures.js';
import { counting } from '../tests/support/keys.js';
import { bridgeRequests } from '../tests/support/upstash-bridge.js';
import { loadBench, printLoad } from './bench-load.js';
import { loadEnvFiles } from './load-env.js';
import { createVercelRouter, functionExports } from './vercel-local.js';

loadEnvFiles();
// `npm run bench -- --quick` passes the flag; `npm run bench --quick` leaves it to npm, which sets this.
const quick = process.argv.includes('--quick') || process.env.npm_config_quick === 'true';
const N = quick ? 200 : 2_000;

interface Figure {
  readonly backend: string;
  readonly what: string;
  readonly n: number;
  readonly p50: number;
  readonly p99: number;
  readonly perSecond: number;
}
const figures: Figure[] = [];

/** The q-quantile of ascending samples. */
const sortedAt = (sorted: readonly number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;

async function measure(
  backend: string,
  what: string,
  n: number,
  run: (i: number) => Promise<unknown>,
): Promise<void> {
  for (let i = 0; i < Math.min(20, n); i += 1) await run(i); // warm up
  const times: number[] = [];
  const started = performance.now();
  for (let i = 0; i < n; i += 1) {
    const t0 = performance.now();
    await run(i);
    times.push(performance.now() - t0);
  }
  const total = performance.now() - started;
  times.sort((a, b) => a - b);
  figures.push({
    backend,
    what,
    n,
    p50: sortedAt(times, 0.5),
    p99: sortedAt(times, 0.99),
    perSecond: (n / total) * 1000,
  });
}

/**
 * Two or more operations sampled in turn (a, b, a, b …), so that a slow moment of a shared machine
 * falls on all of them alike and their ratio means something; one figure each.
 */
async function interleaved(
  backend: string,
  n: number,
  runs: readonly (readonly [string, (i: number) => Promise<unknown>])[],
): Promise<void> {
  for (const [, run] of runs) await run(-1); // warm up
  const times = runs.map(() => [] as number[]);
  const totals = runs.map(() => 0);
  for (let i = 0; i < n; i += 1) {
    for (const [j, [, run]] of runs.entries()) {
      const t0 = performance.now();
      await run(i);
      const took = performance.now() - t0;
      times[j]?.push(took);
      totals[j] = (totals[j] ?? 0) + took;
    }
  }
  for (const [j, [what]] of runs.entries()) {
    const sorted = (times[j] ?? []).sort((a, b) => a - b);
    figures.push({
      backend,
      what,
      n,
      p50: sortedAt(sorted, 0.5),
      p99: sortedAt(sorted, 0.99),
      perSecond: (n / (totals[j] ?? 1)) * 1000,
    });
  }
}

/**
 * CPU time per call (process.cpuUsage: user + system of this process, so time spent waiting for the
 * machine's other work is not counted), the median of several batches taken in turn for each
 * operation after a warm-up batch. The first operation is the baseline the others are read against.
 */
async function cpuPerCall(
  calls: number,
  batches: number,
  runs: readonly (readonly [string, () => unknown])[],
): Promise<{ what: string; us: number }[]> {
  const samples = runs.map(() => [] as number[]);
  for (let b = -1; b < batches; b += 1) {
    for (const [j, [, run]] of runs.entries()) {
      const before = process.cpuUsage();
      for (let i = 0; i < calls; i += 1) await run();
      const used = process.cpuUsage(before);
      if (b >= 0) samples[j]?.push((used.user + used.system) / calls);
    }
  }
  return runs.map(([what], j) => ({
    what,
    us: sortedAt(
      (samples[j] ?? []).sort((x, y) => x - y),
      0.5,
    ),
  }));
}

async function expectStatus(promise: Promise<{ status: number }>, status: number): Promise<void> {
  const res = await promise;
  if (res.status !== status) throw new Error(`expected ${status}, got ${res.status}`);
}

async function benchApp(name: string, app: App): Promise<void> {
  const tenant = await createTenant(app);
  await measure(name, 'GET /v1/tenants/{id} (admin key)', N, () =>
    expectStatus(call(app, 'GET', `/v1/tenants/${tenant.tenantId}`, { headers: asAdmin }), 200),
  );
  const issued = await call(app, 'POST', `/v1/tenants/${tenant.tenantId}/api-keys`, {
    headers: asAdmin,
    json: { name: 'bench', tier: 'internal', scopes: ['contracts'] },
  });
  // An internal key may make 10,000 requests per window: enough for every run.
  await measure(name, 'GET /v1/tenants/{id} (API key)', N, () =>
    expectStatus(
      call(app, 'GET', `/v1/tenants/${tenant.tenantId}`, { headers: { 'x-api-key': issued.body.key } }),
      200,
    ),
  );
  // Filler keys go to a tenant of their own (a tenant holds at most 100 active keys).
  await benchHotPath(name, app, (await createTenant(app)).tenantId, issued.body.key);
  await measure(name, 'create an API key (lock, count, audit)', quick ? 20 : 70, (i) =>
    expectStatus(
      call(app, 'POST', `/v1/tenants/${tenant.tenantId}/api-keys`, {
        headers: asAdmin,
        json: { name: `bench ${i}`, scopes: ['contracts'] },
      }),
      201,
    ),
  );
  const { session, owner } = await ownerSession(app);
  // A person may make 1,000 requests per window: stay under it (900 here, 21 counted below).
  const me = (a: App) => expectStatus(call(a, 'GET', '/v1/auth/me', { headers: session.auth }), 200);
  await measure(name, 'GET /v1/auth/me (JWT + session check)', Math.min(N, 900), () => me(app));
  await perRequest(name, 'GET /v1/auth/me (JWT, warm)', app, me);
  // Login against the one bcrypt comparison it contains, sampled in turn. bcrypt compares the
  // password's 44-character pre-hash (lib/identity/password.ts), so the baseline compares 44 too.
  const hash = await bcrypt.hash('x'.repeat(44), app.config.bcryptCost);
  const samples = quick ? 30 : 100;
  await interleaved(name, samples, [
    [
      `POST /v1/auth (login, bcrypt cost ${app.config.bcryptCost})`,
      // One address per login (TEST-NET-2/3): the per-address login limit never refuses one.
      (i) => logIn(app, owner.email, undefined, `198.51.100.${(i + 1) % 250}`),
    ],
    ['bcrypt.compare alone (same cost)', () => bcrypt.compare('y'.repeat(44), hash)],
  ]);
  let refresh = session.refreshToken;
  await measure(name, 'POST /v1/auth/refresh (rotation)', quick ? 50 : 300, async () => {
    const res = await call(app, 'POST', '/v1/auth/refresh', { json: { refresh_token: refresh } });
    if (res.status !== 200) throw new Error(res.text);
    refresh = res.body.refresh_token;
  });
  await measure(name, 'rate limiter: one limit() call', N, (i) =>
    app.limiter.limit(policies.person, `bench-${i % 50}`),
  );
}

/** Counted per request, never assumed: what a warm request costs in queries and Redis round trips. */
const counts: { backend: string; what: string; queries: number; redisTrips: number }[] = [];
const notes: string[] = [];

async function perRequest(backend: string, what: string, app: App, run: (a: App) => Promise<unknown>) {
  const counted = counting(app);
  // Counted where they arrive: the requests the (in-process) Upstash bridge answers.
  const limiter = app.config.rateLimit;
  const tripsSoFar = () => (limiter.kind === 'upstash' ? bridgeRequests(limiter.url) : 0);
  await run(counted.app); // warm
  await app.settle();
  const before = { q: counted.queries(), t: tripsSoFar() };
  const n = 20;
  for (let i = 0; i < n; i++) await run(counted.app);
  await app.settle();
  counts.push({
    backend,
    what,
    queries: (counted.queries() - before.q) / n,
    redisTrips: (tripsSoFar() - before.t) / n,
  });
}

/**
 * The pipeline's own CPU per request, without sockets: groups of 50 concurrent requests handed to
 * `answerRequest` as the local server hands them over (scripts/node-exchange.ts), so what the load
 * runs' server CPU adds to it is node:http and the machine. Services mode: the in-process bridge's
 * share included. 64 internal keys in turn, so no batch reaches a limit.
 */
async function pipelineCpu(name: string, app: App, tenantId: string): Promise<void> {
  const keys: string[] = [];
  for (let i = 0; i < 64; i++) {
    const issued = await call(app, 'POST', `/v1/tenants/${tenantId}/api-keys`, {
      headers: asAdmin,
      json: { name: `pipeline ${i}`, tier: 'internal', scopes: ['contracts'] },
    });
    if (issued.status !== 201) throw new Error(issued.text);
    keys.push(issued.body.key);
  }
  const routerOf = async (path: string) => {
    const resolution = createVercelRouter().resolve(new URL(`https://heir.test${path}`));
    if (resolution.kind !== 'function') throw new Error(`${path} is not a function's`);
    return (await functionExports(resolution.file)).router;
  };
  let n = 0;
  const group = async (path: string, withKey: boolean) => {
    const router = await routerOf(path);
    return async () => {
      const answers = await Promise.all(
        Array.from({ length: 50 }, () => {
          const headers: Record<string, string> = { 'x-forwarded-for': '203.0.113.10' };
          if (withKey) headers['x-api-key'] = keys[n++ % keys.length] as string;
          return answerRequest(app, router, {
            method: 'GET',
            url: new URL(`https://heir.test${path}`),
            headers: { get: (header: string) => headers[header] ?? null },
            body: () => null,
          });
        }),
      );
      if (answers.some((answer) => answer.status !== 200)) throw new Error(`${path}: not 200`);
    };
  };
  const cpu = await cpuPerCall(quick ? 100 : 400, quick ? 5 : 9, [
    ['GET /v1/ping', await group('/v1/ping', false)],
    ['GET /v1/whoami', await group('/v1/whoami', true)],
  ]);
  notes.push(
    `${name}: pipeline CPU per request in-process (answerRequest, 50 concurrent, no sockets` +
      `${app.config.rateLimit.kind === 'upstash' ? '; the in-process bridge included' : ''}): ` +
      cpu.map((c) => `${c.what} ${(c.us / 50).toFixed(1)} µs`).join(', '),
  );
}

async function benchHotPath(name: string, app: App, tenantId: string, key: string): Promise<void> {
  await measure(name, 'GET /v1/ping (pipeline, no auth)', N, () =>
    expectStatus(call(app, 'GET', '/v1/ping'), 200),
  );
  await measure(name, 'GET /v1/whoami (API key: auth + limit)', N, () =>
    expectStatus(call(app, 'GET', '/v1/whoami', { headers: { 'x-api-key': key } }), 200),
  );
  await measure(name, 'POST /v1/keys/verify (admin)', N, () =>
    expectStatus(call(app, 'POST', '/v1/keys/verify', { headers: asAdmin, json: { key } }), 200),
  );
  const whoami = (a: App) =>
    expectStatus(call(a, 'GET', '/v1/whoami', { headers: { 'x-api-key': key } }), 200);
  await perRequest(name, 'GET /v1/whoami (API key, warm)', app, whoami);
  await perRequest(name, 'GET /v1/ping', app, ((a: App) =>
    expectStatus(call(a, 'GET', '/v1/ping'), 200)) as never);
  // Key check CPU: the verifier on a warm cache (shape, checksum, SHA-256, the checks), per call, next
  // to one bare SHA-256 of the same key measured in the same batches; and a key with an allow-list.
  const listed = await call(app, 'POST', `/v1/tenants/${tenantId}/api-keys`, {
    headers: asAdmin,
    json: {
      name: 'bench allow-list',
      tier: 'internal',
      scopes: ['contracts'],
      ip_whitelist: ['203.0.113.0/24', '198.51.100.42', '2001:db8::/32'],
    },
  });
  if (listed.status !== 201) throw new Error(listed.text);
  const deps = { db: app.db, cache: new KeyCache(), signals: app.signals };
  const at = new Date();
  const check = async (secret: string, ip: string) => {
    const { verification } = await verifyApiKeyCached(deps, secret, { at, ip });
    if (!verification.valid) throw new Error(`key check refused: ${verification.code}`);
  };
  await check(key, '203.0.113.10');
  await check(listed.body.key, '2001:db8::10');
  const cpu = await cpuPerCall(quick ? 2_000 : 20_000, quick ? 5 : 9, [
    ['bare SHA-256 of the key', () => createHash('sha256').update(key, 'utf8').digest('hex')],
    ['key check, no allow-list', () => check(key, '203.0.113.10')],
    ['key check, 3-entry allow-list (IPv6 client)', () => check(listed.body.key, '2001:db8::10')],
  ]);
  const baseline = cpu[0]?.us ?? 0;
  notes.push(
    `${name}: key check CPU per call, warm cache, median of batches (target ≤ 20 µs): ` +
      cpu.map((c) => `${c.what} ${c.us.toFixed(1)} µs (${(c.us / baseline).toFixed(1)}×)`).join('; '),
  );
  await pipelineCpu(name, app, tenantId);
  // Verify latency against the size of the table: the uncached verifier (POST /v1/keys/verify's),
  // one lookup by hash per call. Fake hashes, inserted 100,000 per statement (one statement of a
  // million would outlast the statement timeout), then ANALYZE, as a live table would be.
  // A million rows take ~1 minute into Postgres but ~2 into PGlite: --quick fills only Postgres.
  const sizes = quick && name === 'embedded' ? [1_000] : [1_000, 1_000_000];
  for (const size of sizes) {
    const existing = Number(
      (await sql<{ n: string }>`select count(*)::text as n from api_keys`.execute(app.db)).rows[0]?.n ?? 0,
    );
    const filling = performance.now();
    for (let from = existing + 1; from <= size; from += 100_000) {
      const to = Math.min(size, from + 99_999);
      await sql`insert into api_keys (tenant_id, name, tier, scopes, prefix, last4, key_hash, created_by_type, expires_at)
        select ${tenantId}::uuid, 'bench filler', 'public', array['contracts'], 'heir_pk_', 'xxxx',
               md5(g::text) || md5((g + 1)::text), 'system', now() + interval '1 day'
        from generate_series(${from}::int, ${to}::int) as g`.execute(app.db);
    }
    await sql`analyze api_keys`.execute(app.db);
    if (size > 1_000) {
      notes.push(
        `${name}: ${size.toLocaleString('en')} keys inserted in ${((performance.now() - filling) / 1000).toFixed(0)} s`,
      );
    }
    // Sampled in turn with a query the table's size cannot change (a tenant by its primary key): the
    // two table sizes are measured minutes apart, and the control shows how much the machine moved.
    await interleaved(name, quick ? 200 : 1_000, [
      [
        `verify a key, ${size.toLocaleString('en')} keys in the table`,
        () =>
          verifyApiKey(app.db, key, { at: new Date(), ip: null }).then((v) => {
            if (!v.valid) throw new Error(v.code);
          }),
      ],
      [
        `control: a tenant by id, ${size.toLocaleString('en')} keys`,
        () => app.db.selectFrom('tenants').select('id').where('id', '=', tenantId).executeTakeFirstOrThrow(),
      ],
    ]);
    notes.push(`${name}: lookup plan with ${size.toLocaleString('en')} keys: ${await lookupPlan(app, key)}`);
  }
  if (sizes.length > 1) {
    const raw = ratio(name, 'verify a key, 1,000,000', 'verify a key, 1,000 ');
    const control = ratio(name, 'control: a tenant by id, 1,000,000', 'control: a tenant by id, 1,000 ');
    notes.push(
      `${name}: verify p50, 1,000,000 keys / 1,000 keys ${raw} (target ≤ 1.2); the control's ratio over ` +
        `the same two runs ${control}, so ${(Number(raw) / Number(control)).toFixed(2)} with the machine's drift taken out`,
    );
  }
}

/** Which indexes the lookup by hash uses (EXPLAIN of findKeyBySecretHash's query), in one line. */
async function lookupPlan(app: App, key: string): Promise<string> {
  const hash = createHash('sha256').update(key, 'utf8').digest('hex');
  const { rows } = await sql<{ 'QUERY PLAN': string }>`explain select api_keys.id from api_keys
    inner join tenants on tenants.id = api_keys.tenant_id
    where api_keys.key_hash = ${hash}
       or (api_keys.previous_key_hash = ${hash} and api_keys.previous_expires_at > ${new Date()})`.execute(
    app.db,
  );
  const steps = rows.map((r) => r['QUERY PLAN']).filter((line) => /Scan|BitmapOr|Loop|Join/.test(line));
  return steps
    .map((line) =>
      line
        .trim()
        .replace(/^->\s*/, '')
        .replace(/\s*\(cost=.*$/, ''),
    )
    .join(' | ');
}

async function benchPure(app: App): Promise<void> {
  const claims = {
    userId: crypto.randomUUID(),
    tenantId: crypto.randomUUID(),
    role: 'owner' as const,
    sessionId: crypto.randomUUID(),
  };
  const now = new Date();
  await measure('pure', 'sign access token (EdDSA)', N, () => signAccessToken(app.tokens, claims, now));
  const token = await signAccessToken(app.tokens, claims, now);
  await measure('pure', 'verify access token (EdDSA)', N, () => verifyAccessToken(app.tokens, token, now));
  const key = generateApiKey('partner');
  await measure('pure', 'API key shape + checksum (parseApiKey)', N * 5, async () => parseApiKey(key));
  await measure('pure', 'generate an API key', N, async () => generateApiKey('partner'));
  const limiter = createMemoryLimiter();
  await measure('pure', 'in-process limiter limit()', N * 5, (i) =>
    limiter.limit(policies.person, `id-${i % 1000}`),
  );
}

/** p50 of the first figure whose name starts with `a` over that of `b`, same backend. */
function ratio(backend: string, a: string, b: string): string {
  const x = figures.find((f) => f.backend === backend && f.what.startsWith(a));
  const y = figures.find((f) => f.backend === backend && f.what.startsWith(b));
  return x && y ? (x.p50 / y.p50).toFixed(2) : '-';
}

const heapBefore = process.memoryUsage().heapUsed;
for (const backend of testBackends()) {
  const { app, stop } = await backend.start({ LOG_LEVEL: 'silent' });
  try {
    await benchApp(backend.name, app);
    if (backend.name === 'embedded') await benchPure(app);
  } finally {
    await stop();
  }
}
const memory = process.memoryUsage();
// After the in-process part, so the two never compete for the machine's cores.
const load = process.env.BENCH_SKIP_LOAD === '1' ? [] : await loadBench(quick);

console.log(
  `\nHEIR Auth benchmark (${quick ? 'quick' : 'full'}; Node ${process.version}; in-process, one request at a time)`,
);
console.log(
  [
    'backend'.padEnd(15),
    'operation'.padEnd(42),
    'n'.padStart(6),
    'p50 ms'.padStart(9),
    'p99 ms'.padStart(9),
    'per s'.padStart(9),
  ].join(' '),
);
for (const f of figures) {
  console.log(
    [
      f.backend.padEnd(15),
      f.what.padEnd(42),
      String(f.n).padStart(6),
      f.p50.toFixed(2).padStart(9),
      f.p99.toFixed(2).padStart(9),
      Math.round(f.perSecond).toString().padStart(9),
    ].join(' '),
  );
}
console.log('\nPer warm request, counted (not assumed):');
for (const c of counts) {
  console.log(
    `${c.backend.padEnd(15)} ${c.what.padEnd(42)} Postgres queries ${c.queries}  Redis round trips ${c.redisTrips}`,
  );
}
for (const note of notes) console.log(note);
for (const backend of new Set(figures.map((f) => f.backend))) {
  if (backend === 'pure') continue;
  console.log(
    `${backend}: login / bcrypt.compare p50 ${ratio(backend, 'POST /v1/auth (login', 'bcrypt.compare')} (target ≤ 1.15); ` +
      `whoami / ping p50 ${ratio(backend, 'GET /v1/whoami', 'GET /v1/ping')}`,
  );
}
if (load.length > 0) printLoad(load);
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
console.log(
  `memory: rss ${mb(memory.rss)}, heap used ${mb(memory.heapUsed)} (grew ${mb(memory.heapUsed - heapBefore)} during the run)`,
);
