/**
 * `npm run bench`: prints figures, asserts nothing (targets live here, not in timed tests).
 * Runs in-process through the same routing and pipeline as production, on the embedded backend and,
 * when DATABASE_URL / REDIS_URL are set, on Postgres + Redis (through the Upstash REST bridge).
 * `--quick` runs fewer iterations (CI uses it to keep the benchmark working); `npm run bench --quick`
 * and `npm run bench -- --quick` both work.
 */
import { performance } from 'node:perf_hooks';
import type { App } from '../lib/app.js';
import { signAccessToken, verifyAccessToken } from '../lib/identity/access-token.js';
import { generateApiKey, parseApiKey } from '../lib/keys/key-format.js';
import { createMemoryLimiter } from '../lib/ratelimit/memory.js';
import { policies } from '../lib/ratelimit/policies.js';
import { testBackends } from '../tests/support/backends.js';
import { asAdmin, call } from '../tests/support/client.js';
import { createTenant, logIn, ownerSession } from '../tests/support/fixtures.js';
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
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
console.log(
  `memory: rss ${mb(memory.rss)}, heap used ${mb(memory.heapUsed)} (grew ${mb(memory.heapUsed - heapBefore)} during the run)`,
);
