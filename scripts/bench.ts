/**
 * `npm run bench`: prints figures, asserts nothing (targets live here, not in timed tests).
 * Runs in-process through the same routing and pipeline as production, on the embedded backend and,
 * when DATABASE_URL / REDIS_URL are set, on Postgres + Redis (through the Upstash REST bridge).
 * `--quick` runs fewer iterations (CI uses it to keep the benchmark working); `npm run bench --quick`
 * and `npm run bench -- --quick` both work.
 */
import { performance } from 'node:perf_hooks';
import bcrypt from 'bcryptjs';
import { sql } from 'kysely';
import type { App } from '../lib/app.js';
import { signAccessToken, verifyAccessToken } from '../lib/identity/access-token.js';
import { KeyCache, verifyApiKeyCached } from '../lib/keys/key-cache.js';
import { generateApiKey, parseApiKey } from '../lib/keys/key-format.js';
import { createMemoryLimiter } from '../lib/ratelimit/memory.js';
import { policies } from '../lib/ratelimit/policies.js';
import { testBackends } from '../tests/support/backends.js';
import { asAdmin, call } from '../tests/support/client.js';
import { createTenant, logIn, ownerSession } from '../tests/support/fixtures.js';
import { counting } from '../tests/support/keys.js';
import { bridgeRequests } from '../tests/support/upstash-bridge.js';
import { loadBench, printLoad } from './bench-load.js';
import { loadEnvFiles } from './load-env.js';

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
  const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))] ?? 0;
  figures.push({ backend, what, n, p50: at(0.5), p99: at(0.99), perSecond: (n / total) * 1000 });
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
  // A person may make 1,000 requests per window: stay under it.
  await measure(name, 'GET /v1/auth/me (JWT + session check)', Math.min(N, 900), () =>
    expectStatus(call(app, 'GET', '/v1/auth/me', { headers: session.auth }), 200),
  );
  await measure(name, 'POST /v1/auth (login, bcrypt cost 10)', quick ? 10 : 50, (i) =>
    logIn(app, owner.email, undefined, `192.0.2.${i % 200}`),
  );
  const hash = await bcrypt.hash('correct horse battery staple 42', app.config.bcryptCost);
  await measure(name, 'bcrypt.compare alone (same cost)', quick ? 10 : 50, () =>
    bcrypt.compare('correct horse battery staple 42', hash),
  );
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
  // Key check CPU: the verifier on a warm cache (shape, checksum, SHA-256, the checks), per call.
  const deps = { db: app.db, cache: new KeyCache(), signals: app.signals };
  const at = new Date();
  await verifyApiKeyCached(deps, key, { at, ip: '203.0.113.10' });
  const calls = quick ? 2_000 : 20_000;
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < calls; i++) await verifyApiKeyCached(deps, key, { at, ip: '203.0.113.10' });
  const cpu = process.cpuUsage(cpu0);
  notes.push(
    `${name}: key check CPU per call (warm cache) ${((cpu.user + cpu.system) / calls).toFixed(1)} µs (target ≤ 20)`,
  );
  // Verify latency against the size of the table: fake hashes, one generate_series INSERT.
  for (const size of quick ? [1_000] : [1_000, 1_000_000]) {
    const existing = Number(
      (await sql<{ n: string }>`select count(*)::text as n from api_keys`.execute(app.db)).rows[0]?.n ?? 0,
    );
    if (existing < size) {
      await sql`insert into api_keys (tenant_id, name, tier, scopes, prefix, last4, key_hash, created_by_type, expires_at)
        select ${tenantId}::uuid, 'bench filler', 'public', array['contracts'], 'heir_pk_', 'xxxx',
               md5(g::text) || md5((g + 1)::text), 'system', now() + interval '1 day'
        from generate_series(1, ${size - existing}) as g`.execute(app.db);
      await sql`analyze api_keys`.execute(app.db);
    }
    await measure(
      name,
      `verify a key, ${size.toLocaleString('en')} keys in the table`,
      quick ? 200 : 1_000,
      () => verifyApiKeyCached({ ...deps, cache: new KeyCache() }, key, { at: new Date(), ip: null }),
    );
  }
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
const ratio = (backend: string, a: string, b: string) => {
  const x = figures.find((f) => f.backend === backend && f.what.startsWith(a));
  const y = figures.find((f) => f.backend === backend && f.what.startsWith(b));
  return x && y ? (x.p50 / y.p50).toFixed(2) : '-';
};
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
