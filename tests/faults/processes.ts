/**
 * Throw-away dependencies for the fault test: a Postgres cluster and a Redis server of its own on free
 * ports in a temporary directory, and the real dev server as a separate process. Everything here is
 * started by the test and can be killed, frozen (SIGSTOP) and resumed without touching the machine's
 * own Postgres (5432) or Redis (6379).
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A free TCP port on 127.0.0.1 (the OS picks it; closed again before use). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (!address || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** Polls `probe` until it returns true, at most `limitMs`; returns the time it took. */
export async function waitFor(what: string, probe: () => Promise<boolean>, limitMs: number): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < limitMs) {
    if (await probe().catch(() => false)) return performance.now() - started;
    await sleep(50);
  }
  throw new Error(`${what}: not ready within ${limitMs} ms`);
}

/** The directory holding initdb/pg_ctl/postgres, or null when Postgres is not installed. */
export function findPostgresBinaries(): string | null {
  const candidates: string[] = [];
  try {
    // Synchronous on purpose: it decides whether a suite is skipped, at declaration time.
    const stdio: ['ignore', 'pipe', 'ignore'] = ['ignore', 'pipe', 'ignore'];
    candidates.push(execFileSync('pg_config', ['--bindir'], { encoding: 'utf8', stdio }).trim());
  } catch {
    // no pg_config: fall through to the usual Debian/Ubuntu location
  }
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    for (const version of readdirSync(root).sort().reverse()) candidates.push(join(root, version, 'bin'));
  }
  return candidates.find((dir) => existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'))) ?? null;
}

export function findRedisServer(): string | null {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const path = join(dir, 'redis-server');
    if (dir && existsSync(path)) return path;
  }
  return null;
}

/** initdb and postgres refuse to run as root; as root they run as the `postgres` OS user. */
function asPostgresUser(command: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args];
}

export interface OwnPostgres {
  readonly port: number;
  /** postgres://postgres@127.0.0.1:<port>/<database> */
  url(database?: string): string;
  /** `pg_ctl stop -m immediate`: every backend killed at once, no shutdown checkpoint. */
  killImmediate(): Promise<void>;
  /** SIGSTOP to the postmaster and every backend: connections stay open and nothing answers. */
  freeze(): Promise<void>;
  /** SIGCONT to all of them, in reverse order. */
  thaw(): Promise<void>;
  /** `pg_ctl start -w` (crash recovery included); resolves when it accepts connections. */
  start(): Promise<void>;
  /** Stops it whatever its state and removes its directory. */
  destroy(): Promise<void>;
}

export async function startOwnPostgres(bindir: string): Promise<OwnPostgres> {
  const dir = mkdtempSync(join(tmpdir(), 'heir-faults-pg-'));
  const data = join(dir, 'data');
  if (process.getuid?.() === 0) {
    const { uid, gid } = await postgresIds();
    chownSync(dir, uid, gid);
  }
  chmodSync(dir, 0o700);
  const port = await freePort();
  const pgCtl = join(bindir, 'pg_ctl');
  const exec = (command: string, args: string[]) => {
    const [file, argv] = asPostgresUser(command, args);
    return run(file, argv, { timeout: 60_000 });
  };
  await exec(join(bindir, 'initdb'), [
    '-D',
    data,
    '-U',
    'postgres',
    '--auth=trust',
    '-E',
    'UTF8',
    '--no-sync',
  ]);
  // fsync off: nothing here survives the test, and a killed postmaster loses nothing the OS already has.
  // synchronous_commit stays on, so a 201 the service answered is a commit that survives `-m immediate`.
  const options = [
    `-p ${port}`,
    `-k ${dir}`,
    "-c listen_addresses='127.0.0.1'",
    '-c fsync=off',
    '-c full_page_writes=off',
    '-c max_connections=50',
    '-c shared_buffers=16MB',
  ].join(' ');
  let frozen: number[] = [];
  const thaw = async () => {
    for (const pid of [...frozen].reverse()) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // already gone
      }
    }
    frozen = [];
  };
  const start = async () => {
    await exec(pgCtl, ['-D', data, '-o', options, '-l', join(dir, 'log'), '-w', '-t', '60', 'start']);
  };
  const postmasterPid = () => Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
  const children = async (pid: number): Promise<number[]> => {
    const { stdout } = await run('ps', ['-o', 'pid=', '--ppid', String(pid)]).catch(() => ({ stdout: '' }));
    return stdout
      .split('\n')
      .map((line) => Number(line.trim()))
      .filter((child) => child > 0);
  };
  await start();
  return {
    port,
    url: (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`,
    async killImmediate() {
      await exec(pgCtl, ['-D', data, '-m', 'immediate', 'stop']);
    },
    async freeze() {
      const postmaster = postmasterPid();
      // The postmaster first, so that it forks no new backend while the others are being stopped.
      process.kill(postmaster, 'SIGSTOP');
      frozen = [postmaster, ...(await children(postmaster))];
      for (const pid of frozen.slice(1)) process.kill(pid, 'SIGSTOP');
    },
    thaw,
    start,
    async destroy() {
      await thaw();
      if (existsSync(join(data, 'postmaster.pid'))) {
        await exec(pgCtl, ['-D', data, '-m', 'immediate', 'stop']).catch(() => {});
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function postgresIds(): Promise<{ uid: number; gid: number }> {
  const [{ stdout: uid }, { stdout: gid }] = await Promise.all([
    run('id', ['-u', 'postgres']),
    run('id', ['-g', 'postgres']),
  ]);
  return { uid: Number(uid.trim()), gid: Number(gid.trim()) };
}

export interface OwnRedis {
  readonly port: number;
  readonly url: string;
  kill(): void;
  freeze(): void;
  thaw(): void;
  /** Starts it again on the same port (empty: nothing is persisted). */
  start(): Promise<void>;
  destroy(): Promise<void>;
}

export async function startOwnRedis(binary: string): Promise<OwnRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'heir-faults-redis-'));
  let child: ChildProcess | null = null;
  const start = async () => {
    const started = spawn(
      binary,
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
      { stdio: 'ignore' },
    );
    child = started;
    await waitFor('redis', () => redisAnswers(port), 10_000);
  };
  const signal = (name: NodeJS.Signals) => {
    if (child?.pid && child.exitCode === null && child.signalCode === null) process.kill(child.pid, name);
  };
  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    kill: () => signal('SIGKILL'),
    freeze: () => signal('SIGSTOP'),
    thaw: () => signal('SIGCONT'),
    start,
    async destroy() {
      signal('SIGCONT');
      signal('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** PING over a raw socket: true on +PONG. */
function redisAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (chunk) => done(chunk.toString().startsWith('+PONG')));
  });
}

export interface Service {
  readonly baseUrl: string;
  /** Exit code or signal if the process has ended (it never should). */
  exited(): string | null;
  /** The last lines it wrote (for failure messages). */
  output(): string;
  stop(): Promise<void>;
}

/** The real dev server (`scripts/dev.ts`) as its own process, as `npm run dev` runs it. */
export async function startService(env: Record<string, string>): Promise<Service> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/dev.ts'], {
    env: { ...process.env, ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let ended: string | null = null;
  child.once('exit', (code, signal) => {
    ended = `exit code ${code} signal ${signal}`;
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  try {
    await waitFor(
      'service',
      async () => {
        if (ended) throw new Error(`service ended at start-up (${ended}):\n${output}`);
        return (await fetch(`${baseUrl}/api/health`, { signal: AbortSignal.timeout(2000) })).status === 200;
      },
      60_000,
    );
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`${(error as Error).message}\n${output}`);
  }
  return {
    baseUrl,
    exited: () => ended,
    output: () => output,
    async stop() {
      if (ended) return;
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await gone;
    },
  };
}
