/**
 * The side-by-side load run of `npm run bench` (issue 8): a bare node:http handler and the local
 * server (scripts/dev.ts) each in a process of its own, driven by autocannon in a third, at 10 and
 * 50 connections. Services mode also puts the Upstash REST bridge in a process of its own, as
 * Upstash is a separate service in production. Prints figures; asserts nothing. Only 127.0.0.1.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
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
  serverCpuPerRequest: number;
  bridgeCpuPerRequest: number | null;
  /** REST requests the bridge served per server request: below 1 when concurrent requests share one. */
  roundTripsPerRequest: number | null;
}

async function api(
  base: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  json?: unknown,
) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...headers, ...(json ? { 'content-type': 'application/json' } : {}) },
    ...(json ? { body: JSON.stringify(json) } : {}),
  });
  // Only the fields the benchmark reads, of the answers it asks for.
  const body = (await res.json()) as {
    tenant: { id: string };
    owner: { email: string; temporary_password: string };
    key: string;
    access_token: string;
  };
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

/**
 * What each target needs: API keys (internal tier, 10,000 per window each) and people (1,000 per
 * window each), several of each used in turn so no run is capped by a limit. Any 429 shows in `non2xx`.
 */
async function prepare(base: string, quick: boolean): Promise<Record<string, Request[]>> {
  const admin = { 'x-admin-key': ADMIN_KEYS[0] as string };
  const email = () => `bench.${randomBytes(5).toString('hex')}@example.com`;
  const tenant = await api(base, 'POST', '/v1/tenants', admin, {
    name: 'Bench',
    max_tier: 'internal',
    owner: { email: email(), name: 'Bench Owner' },
  });
  const keys: string[] = [];
  for (let i = 0; i < 16; i++) {
    const issued = await api(base, 'POST', `/v1/tenants/${tenant.tenant.id}/api-keys`, admin, {
      name: `bench ${i}`,
      tier: 'internal',
      scopes: ['contracts'],
    });
    keys.push(issued.key);
  }
  const tokens: string[] = [];
  for (let i = 0; i < (quick ? 8 : 16); i++) {
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
    );
    tokens.push(session.access_token);
  }
  return {
    'GET /v1/ping (pipeline, no auth)': [{ path: '/v1/ping' }],
    'GET /v1/whoami (API key)': keys.map((key) => ({ path: '/v1/whoami', headers: { 'x-api-key': key } })),
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

async function measure(
  rows: LoadRow[],
  mode: string,
  target: string,
  base: string,
  requests: Request[],
  pids: { server?: number; bridge?: number; bridgeStats?: string },
  quick: boolean,
): Promise<void> {
  await drive(base, 10, quick ? 0.5 : 1, requests); // warm-up: JIT, caches, pools
  for (const connections of [10, 50]) {
    const cpu0 = cpuMicros(pids.server);
    const bridge0 = pids.bridge ? cpuMicros(pids.bridge) : 0;
    const trips0 = pids.bridgeStats ? await bridgeRequests(pids.bridgeStats) : 0;
    const run = await drive(base, connections, quick ? 2 : 5, requests);
    const n = Math.max(1, run.total);
    rows.push({
      mode,
      target,
      connections,
      ...run,
      serverCpuPerRequest: (cpuMicros(pids.server) - cpu0) / n,
      bridgeCpuPerRequest: pids.bridge ? (cpuMicros(pids.bridge) - bridge0) / n : null,
      roundTripsPerRequest: pids.bridgeStats ? ((await bridgeRequests(pids.bridgeStats)) - trips0) / n : null,
    });
  }
}

/** REST requests the bridge process has served so far (its stats port, see bench-load-child.ts). */
async function bridgeRequests(statsUrl: string): Promise<number> {
  return Number(await (await fetch(statsUrl)).text());
}

async function benchServer(
  rows: LoadRow[],
  mode: string,
  env: NodeJS.ProcessEnv,
  bridge: { pid: number | undefined; statsUrl: string } | undefined,
  quick: boolean,
) {
  const { proc, match } = await start([devServer], env, /listening on http:\/\/localhost:(\d+)/);
  try {
    const base = `http://127.0.0.1:${match[1]}`;
    const targets = await prepare(base, quick);
    for (const [target, requests] of Object.entries(targets)) {
      const pids = { server: proc.pid, bridge: bridge?.pid, bridgeStats: bridge?.statsUrl };
      await measure(rows, mode, target, base, requests, pids, quick);
    }
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
    const bare = await start([child, 'bare'], { PATH: process.env.PATH }, /READY (.+)\n/);
    cleanups.push(() => stop(bare.proc));
    const { port } = JSON.parse(bare.match[1] ?? '{}') as { port: number };
    await measure(
      rows,
      'bare',
      'node:http handler',
      `http://127.0.0.1:${port}`,
      [{ path: '/' }],
      { server: bare.proc.pid },
      quick,
    );

    await benchServer(rows, 'embedded', baseEnv, undefined, quick);

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
      );
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
    const bare = rows.find((b) => b.mode === 'bare' && b.connections === r.connections);
    console.log(
      [
        r.mode.padEnd(15),
        r.target.padEnd(34),
        String(r.connections).padStart(5),
        Math.round(r.rps).toString().padStart(8),
        r.p50.toFixed(0).padStart(7),
        r.p99.toFixed(0).padStart(7),
        (bare ? (r.rps / bare.rps).toFixed(3) : '-').padStart(7),
        Math.round(r.serverCpuPerRequest).toString().padStart(10),
        (r.bridgeCpuPerRequest === null ? '-' : Math.round(r.bridgeCpuPerRequest).toString()).padStart(9),
        (r.roundTripsPerRequest === null ? '-' : r.roundTripsPerRequest.toFixed(2)).padStart(6),
        String(r.non2xx + r.errors).padStart(8),
      ].join(' '),
    );
  }
  console.log(
    'Targets: GET /v1/whoami (API key) ≥ 0.5× bare embedded, ≥ 0.25× bare postgres+redis (not pass/fail).',
  );
  console.log(
    'RT/req: Redis round trips (REST requests at the bridge) per request, shared under load: concurrent requests ride one /pipeline.',
  );
}
