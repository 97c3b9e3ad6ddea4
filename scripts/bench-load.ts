/**
 * The side-by-side load run of `npm run bench` (issue 8): a bare node:http handler and the local
 * server (scripts/dev.ts) each in a process of its own, driven by autocannon in a third, at 10 and
 * 50 connections. Services mode also puts the Upstash REST bridge in a process of its own, as
 * Upstash is a separate service in production. Prints figures; asserts nothing. Only 127.0.0.1.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { createScratchDatabase, deleteRedisPrefix } from '../tests/support/backends.js';

const child = fileURLToPath(new URL('./bench-load-child.ts', import.meta.url));
const devServer = fileURLToPath(new URL('./dev.ts', import.meta.url));
// Several admin keys, used in turn: one key's 10,000 requests per window would cap a long run.
const ADMIN_KEYS = Array.from({ length: 8 }, () => `adm_bench_${randomBytes(18).toString('hex')}`);

const running = new Set<ChildProcess>();
const killAll = () => {
  for (const proc of running) proc.kill('SIGKILL');
};
process.on('exit', killAll);

/** Starts a process (node + tsx, so the pid is the process doing the work) and waits for its line. */
function start(
  args: string[],
  env: NodeJS.ProcessEnv,
  readyLine: RegExp,
): Promise<{ proc: ChildProcess; match: RegExpMatchArray }> {
  const proc = spawn(process.execPath, ['--import', 'tsx', ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(proc);
  proc.on('exit', () => running.delete(proc));
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    proc.stderr?.on('data', (d) => (err += d));
    proc.stdout?.on('data', (d) => {
      out += d;
      const match = out.match(readyLine);
      if (match) resolve({ proc, match });
    });
    proc.on('exit', (code) => reject(new Error(`${args.join(' ')} exited (${code}): ${err || out}`)));
  });
}

function stop(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    proc.once('exit', () => resolve());
    proc.kill('SIGTERM');
    setTimeout(() => proc.kill('SIGKILL'), 3_000).unref();
  });
}

/** utime + stime of a process, in µs (/proc/<pid>/stat fields 14 and 15, in clock ticks of 10 ms). */
function cpuMicros(pid: number | undefined): number {
  if (!pid) return Number.NaN;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

interface Run {
  rps: number;
  total: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
}
interface Request {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

async function drive(url: string, connections: number, duration: number, requests: Request[]): Promise<Run> {
  const options = { url, connections, duration, requests };
  const { proc, match } = await start(
    [child, 'client', JSON.stringify(options)],
    process.env,
    /READY (.+)\n/,
  );
  await stop(proc);
  return JSON.parse(match[1] ?? '{}') as Run;
}

export interface LoadRow extends Run {
  mode: string;
  target: string;
  connections: number;
  /** Median req/s of the bare handler runs, each just before one of this row's runs (bare rows: their own). */
  bareRps: number;
  /** Median over the rounds of (this run's req/s / the bare run's just before it). */
  ratio: number;
  serverCpuPerRequest: number;
  bridgeCpuPerRequest: number | null;
  /** REST requests the bridge served per server request: below 1 when concurrent requests share one. */
  roundTripsPerRequest: number | null;
}

/** The fields the benchmark reads, of the answers it asks for. */
interface ApiBody {
  tenant: { id: string };
  owner: { email: string; temporary_password: string };
  key: string;
  access_token: string;
}

/**
 * One JSON request to the dev server, from the loopback address `from` (127.0.0.1 by default): a
 * person's first login counts against its address (100 a window), so people are set up from several.
 */
function api(
  base: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  json?: unknown,
  from?: string,
): Promise<ApiBody> {
  const body = json === undefined ? undefined : JSON.stringify(json);
  const sent = body === undefined ? headers : { ...headers, 'content-type': 'application/json' };
  return new Promise((resolve, reject) => {
    const req = request(
      `${base}${path}`,
      { method, headers: sent, ...(from ? { localAddress: from } : {}) },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status >= 300) reject(new Error(`${method} ${path}: ${status} ${text}`));
          else {
            try {
              resolve(JSON.parse(text) as ApiBody);
            } catch (error) {
              reject(error); // not thrown from the socket's callback, where it would end the process
            }
          }
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * What each target needs: API keys (internal tier, 10,000 per window each) and people (1,000 per
 * window each), several of each used in turn so no run is capped by a limit: a target's warm-up and
 * runs (17 s quick, 40 s full) send up to ~30,000 whoami and ~8,000 /me per second on a fast machine
 * (bare handler ~95,000 req/s). Any 429 shows in `non2xx`. Each person costs ~3 bcrypt hashes to set
 * up (~0.2 s).
 */
const KEYS = 160;
const KEYS_PER_TENANT = 80;
const WHOAMI = 'GET /v1/whoami (API key)';
const PEOPLE = { quick: 160, full: 320 };

/** An answer as the `answer` role of bench-load-child.ts writes it. */
interface CannedAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** One answer of the server, with the headers it sets itself (node:http adds the connection's own). */
async function sampleAnswer(base: string, request: Request): Promise<CannedAnswer> {
  const res = await fetch(`${base}${request.path}`, { headers: request.headers });
  const headers: Record<string, string> = {};
  const perConnection = new Set(['date', 'connection', 'keep-alive', 'content-length', 'transfer-encoding']);
  res.headers.forEach((value, name) => {
    if (!perConnection.has(name)) headers[name] = value;
  });
  return { status: res.status, headers, body: await res.text() };
}

async function prepare(base: string, quick: boolean): Promise<Record<string, Request[]>> {
  const admin = { 'x-admin-key': ADMIN_KEYS[0] as string };
  const email = () => `bench.${randomBytes(5).toString('hex')}@example.com`;
  let tenantId = '';
  const keys: string[] = [];
  for (let i = 0; i < KEYS; i++) {
    // A tenant holds at most 100 active keys (docs/API.md): a new tenant for each KEYS_PER_TENANT.
    if (i % KEYS_PER_TENANT === 0) {
      tenantId = (
        await api(base, 'POST', '/v1/tenants', admin, {
          name: `Bench keys ${i / KEYS_PER_TENANT}`,
          max_tier: 'internal',
          owner: { email: email(), name: 'Bench Owner' },
        })
      ).tenant.id;
    }
    const issued = await api(base, 'POST', `/v1/tenants/${tenantId}/api-keys`, admin, {
      name: `bench ${i}`,
      tier: 'internal',
      scopes: ['contracts'],
    });
    keys.push(issued.key);
  }
  const tokens: string[] = [];
  for (let i = 0; i < (quick ? PEOPLE.quick : PEOPLE.full); i++) {
    const t = await api(base, 'POST', '/v1/tenants', admin, {
      name: `Bench ${i}`,
      owner: { email: email(), name: 'B' },
    });
    const session = await api(
      base,
      'POST',
      '/v1/auth/set-password',
      {},
      {
        email: t.owner.email,
        temporary_password: t.owner.temporary_password,
        new_password: 'correct horse battery staple 42',
      },
      `127.0.0.${2 + Math.floor(i / 90)}`,
    );
    tokens.push(session.access_token);
  }
  return {
    'GET /v1/ping (pipeline, no auth)': [{ path: '/v1/ping' }],
    [WHOAMI]: keys.map((key) => ({ path: '/v1/whoami', headers: { 'x-api-key': key } })),
    'POST /v1/keys/verify (admin)': ADMIN_KEYS.map((adminKey, i) => ({
      method: 'POST',
      path: '/v1/keys/verify',
      headers: { 'x-admin-key': adminKey, 'content-type': 'application/json' },
      body: JSON.stringify({ key: keys[i % keys.length] }),
    })),
    'GET /v1/auth/me (JWT)': tokens.map((token) => ({
      path: '/v1/auth/me',
      headers: { authorization: `Bearer ${token}` },
    })),
  };
}

/**
 * Load before measuring, at the higher concurrency: V8 keeps optimising (and re-optimising after
 * deopts) the server's request path for several seconds of load; a short warm-up measured that
 * compilation (background TurboFan threads count in the server's CPU) rather than a warm request.
 * Measured on the dev server with --trace-opt: optimisation events fall from ~480/s to ~10/s over the
 * first ~7 s of 10-connection load (docs/decisions/0040-bench-warm-up-and-adjacent-bare.md).
 */
const WARM_UP_SECONDS = { quick: 5, full: 10 };
/** Rounds per connection count, each a bare run then the target's run; the figures are their medians. */
const ROUNDS = 3;

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};

/** The processes whose CPU (and, for the bridge, requests served) a measurement counts. */
interface Pids {
  server?: number;
  bridge?: number;
  bridgeStats?: string;
}

async function measure(
  rows: LoadRow[],
  mode: string,
  target: string,
  base: string,
  requests: Request[],
  pids: Pids,
  quick: boolean,
  bare?: { base: string; requests: Request[] },
): Promise<void> {
  const seconds = quick ? 2 : 5;
  await drive(base, 50, quick ? WARM_UP_SECONDS.quick : WARM_UP_SECONDS.full, requests);
  for (const connections of [10, 50]) {
    // The bare handler runs right before each run, and each run's ratio is to that bare run: this
    // machine's speed swings by up to 2× within minutes (docs/decisions/0040), more than any change
    // measured here; two adjacent runs mostly see the same machine.
    const runs: Run[] = [];
    const bareRps: number[] = [];
    let trips = 0;
    let serverCpu = 0;
    let bridgeCpu = 0;
    for (let round = 0; round < ROUNDS; round++) {
      if (bare) bareRps.push((await drive(bare.base, connections, seconds, bare.requests)).rps);
      const cpu = cpuMicros(pids.server);
      const bridgeAt = pids.bridge ? cpuMicros(pids.bridge) : 0;
      const tripsAt = pids.bridgeStats ? await bridgeRequests(pids.bridgeStats) : 0;
      runs.push(await drive(base, connections, seconds, requests));
      serverCpu += cpuMicros(pids.server) - cpu;
      if (pids.bridge) bridgeCpu += cpuMicros(pids.bridge) - bridgeAt;
      if (pids.bridgeStats) trips += (await bridgeRequests(pids.bridgeStats)) - tripsAt;
    }
    const n = Math.max(
      1,
      runs.reduce((sum, run) => sum + run.total, 0),
    );
    rows.push({
      mode,
      target,
      connections,
      rps: median(runs.map((run) => run.rps)),
      total: n,
      p50: median(runs.map((run) => run.p50)),
      p99: median(runs.map((run) => run.p99)),
      non2xx: runs.reduce((sum, run) => sum + run.non2xx, 0),
      errors: runs.reduce((sum, run) => sum + run.errors, 0),
      bareRps: bare ? median(bareRps) : median(runs.map((run) => run.rps)),
      ratio: bare ? median(runs.map((run, i) => run.rps / (bareRps[i] as number))) : 1,
      serverCpuPerRequest: serverCpu / n,
      bridgeCpuPerRequest: pids.bridge ? bridgeCpu / n : null,
      roundTripsPerRequest: pids.bridgeStats ? trips / n : null,
    });
  }
}

/** REST requests the bridge process has served so far (its stats port, see bench-load-child.ts). */
async function bridgeRequests(statsUrl: string): Promise<number> {
  return Number(await (await fetch(statsUrl)).text());
}

/** Measures the dev server's targets; returns one of its whoami answers (the ceiling row's). */
async function benchServer(
  rows: LoadRow[],
  mode: string,
  env: NodeJS.ProcessEnv,
  bridge: { pid: number | undefined; statsUrl: string } | undefined,
  quick: boolean,
  bare: { base: string; requests: Request[] },
): Promise<CannedAnswer> {
  const { proc, match } = await start([devServer], env, /listening on http:\/\/localhost:(\d+)/);
  try {
    const base = `http://127.0.0.1:${match[1]}`;
    const targets = await prepare(base, quick);
    for (const [target, requests] of Object.entries(targets)) {
      const pids = { server: proc.pid, bridge: bridge?.pid, bridgeStats: bridge?.statsUrl };
      await measure(rows, mode, target, base, requests, pids, quick, bare);
    }
    return await sampleAnswer(base, targets[WHOAMI]?.[0] as Request);
  } finally {
    await stop(proc);
  }
}

export async function loadBench(quick: boolean): Promise<LoadRow[]> {
  const rows: LoadRow[] = [];
  const baseEnv: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    PORT: '0',
    HOST: '127.0.0.1',
    ADMIN_KEY: ADMIN_KEYS.join(','),
    LOG_LEVEL: 'silent',
    APP_URL: 'http://127.0.0.1',
    DATA_DIR: 'memory',
  };
  const cleanups: (() => Promise<void>)[] = [];
  try {
    /** A handler role of bench-load-child.ts (bare, answer, limited), stopped by the cleanups. */
    const serve = async (args: string[]) => {
      const { proc, match } = await start([child, ...args], { PATH: process.env.PATH }, /READY (.+)\n/);
      cleanups.push(() => stop(proc));
      const { port } = JSON.parse(match[1] ?? '{}') as { port: number };
      return { pid: proc.pid, base: `http://127.0.0.1:${port}`, requests: [{ path: '/' }] };
    };
    const bare = await serve(['bare']);
    await measure(rows, 'bare', 'node:http handler', bare.base, bare.requests, { server: bare.pid }, quick);
    /** A row without the pipeline: a ceiling of a whoami on this machine (decision 0042). */
    const ceiling = async (mode: string, target: string, args: string[], pids: Pids = {}) => {
      const handler = await serve(args);
      await measure(
        rows,
        mode,
        target,
        handler.base,
        handler.requests,
        { server: handler.pid, ...pids },
        quick,
        bare,
      );
    };

    const whoami = await benchServer(rows, 'embedded', baseEnv, undefined, quick, bare);
    // The bare handler writing a whoami's own answer (docs/API.md §3's rate-limit headers and
    // vercel.json's), no pipeline, no routing.
    await ceiling('embedded', 'canned whoami answer (no pipeline)', ['answer', JSON.stringify(whoami)]);

    const { DATABASE_URL, REDIS_URL } = process.env;
    if (DATABASE_URL && REDIS_URL) {
      const database = await createScratchDatabase(DATABASE_URL);
      cleanups.push(() => database.drop());
      const prefix = `heirbench_${randomBytes(6).toString('hex')}`;
      cleanups.push(() => deleteRedisPrefix(REDIS_URL, prefix));
      const bridge = await start([child, 'bridge', REDIS_URL], { PATH: process.env.PATH }, /READY (.+)\n/);
      cleanups.push(() => stop(bridge.proc));
      const { url, token, statsPort } = JSON.parse(bridge.match[1] ?? '{}') as {
        url: string;
        token: string;
        statsPort: number;
      };
      await benchServer(
        rows,
        'postgres+redis',
        {
          ...baseEnv,
          DATABASE_URL: database.url,
          UPSTASH_REDIS_REST_URL: url,
          UPSTASH_REDIS_REST_TOKEN: token,
          RATE_LIMIT_PREFIX: prefix,
        },
        { pid: bridge.proc.pid, statsUrl: `http://127.0.0.1:${statsPort}/` },
        quick,
        bare,
      );
      // The bare handler plus the same two Upstash calls, through the same bridge.
      await ceiling('postgres+redis', 'bare + limit + touch (no pipeline)', ['limited', url, token], {
        bridge: bridge.proc.pid,
        bridgeStats: `http://127.0.0.1:${statsPort}/`,
      });
    }
  } finally {
    // Processes first (the database cannot be dropped under a connected server), then data.
    for (const cleanup of cleanups.reverse()) await cleanup().catch((e) => console.error('cleanup:', e));
    killAll();
  }
  return rows;
}

export function printLoad(rows: LoadRow[]): void {
  console.log(
    '\nLoad, side by side (autocannon in its own process; server, bare handler, bridge: one process each)',
  );
  console.log(
    [
      'mode'.padEnd(15),
      'target'.padEnd(34),
      'conns'.padStart(5),
      'req/s'.padStart(8),
      'bare r/s'.padStart(8),
      'p50 ms'.padStart(7),
      'p99 ms'.padStart(7),
      '× bare'.padStart(7),
      'srv µs/req'.padStart(10),
      'bridge µs'.padStart(9),
      'RT/req'.padStart(6),
      'non-2xx'.padStart(8),
    ].join(' '),
  );
  for (const r of rows) {
    console.log(
      [
        r.mode.padEnd(15),
        r.target.padEnd(34),
        String(r.connections).padStart(5),
        Math.round(r.rps).toString().padStart(8),
        Math.round(r.bareRps).toString().padStart(8),
        r.p50.toFixed(0).padStart(7),
        r.p99.toFixed(0).padStart(7),
        r.ratio.toFixed(3).padStart(7),
        Math.round(r.serverCpuPerRequest).toString().padStart(10),
        (r.bridgeCpuPerRequest === null ? '-' : Math.round(r.bridgeCpuPerRequest).toString()).padStart(9),
        (r.roundTripsPerRequest === null ? '-' : r.roundTripsPerRequest.toFixed(2)).padStart(6),
        String(r.non2xx + r.errors).padStart(8),
      ].join(' '),
    );
  }
  console.log(
    `Each row: medians of ${ROUNDS} rounds, each a bare handler run (bare r/s) then the target's; × bare is the median of each round's ratio (this machine's speed swings more over minutes than between two adjacent runs).`,
  );
  console.log(
    'Targets: GET /v1/whoami (API key) ≥ 0.5× bare embedded, ≥ 0.25× bare postgres+redis (not pass/fail).',
  );
  console.log(
    'Ceilings on this machine, no pipeline: the canned whoami answer (embedded), bare + limit + touch (postgres+redis).',
  );
  console.log(
    'RT/req: Redis round trips (REST requests at the bridge) per request, shared under load: concurrent requests ride one /pipeline.',
  );
}
