/**
 * `npm run dev`'s server (scripts/dev.ts) as a child process, for the tests that must meet it as a
 * client does, over a socket: vercel.json's routing and headers, the portal it builds at start. Also
 * raw HTTP/1.1 over node:net, so tests can send what no fetch client will: TRACE, CONNECT, lowercase
 * methods.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** This process's environment, embedded (DATA_DIR=memory: never the machine's Postgres or Redis), with `extra`. */
export function embeddedEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: 'memory', LOG_LEVEL: 'error', ...extra };
  for (const name of ['DATABASE_URL', 'REDIS_URL', 'UPSTASH_REDIS_REST_URL', 'UPSTASH_REDIS_REST_TOKEN'])
    delete env[name];
  return env;
}

/** A port free now, for a test that must name the server's URL (APP_URL) before it starts. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  assert.ok(address && typeof address === 'object');
  return address.port;
}

export interface DevServer {
  readonly port: number;
  /** http://127.0.0.1:PORT */
  readonly origin: string;
  /** What the server printed until it said it was listening. */
  readonly startLog: string;
  /** Ends the server and waits until it has exited. */
  stop(): Promise<void>;
}

/** Starts the server with exactly `env` on `port` (0: any free one) and waits until it listens. */
export async function startDevServer(env: NodeJS.ProcessEnv = embeddedEnv(), port = 0): Promise<DevServer> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/dev.ts'], {
    cwd: root,
    env: { ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const bound = await new Promise<number>((resolve, reject) => {
    // The first start builds the portal and may create a database; the limit only bounds a failure.
    const timer = setTimeout(() => reject(new Error(`dev server did not start:\n${output}`)), 120_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const found = /listening on http:\/\/localhost:(\d+)/.exec(output);
      if (found) {
        clearTimeout(timer);
        resolve(Number(found[1]));
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`dev server exited (${code}):\n${output}`));
    });
  });
  return {
    port: bound,
    origin: `http://127.0.0.1:${bound}`,
    startLog: output,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.removeAllListeners('exit');
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

export interface RawResponse {
  readonly status: number;
  readonly headers: Map<string, string>;
  readonly body: string;
  readonly head: string;
}

/**
 * Sends one raw request (the request line, headers and body bytes as given: a chunked body is sent
 * encoded by the caller) and reads until the server closes. `head` is the answer's head as sent.
 */
export function rawRequest(
  port: number,
  requestLine: string,
  headers: string[] = [],
  body?: Buffer,
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const raw = Buffer.concat(chunks);
      const split = raw.indexOf('\r\n\r\n');
      const [statusLine = '', ...lines] = raw.subarray(0, split).toString('latin1').split('\r\n');
      const parsed = new Map<string, string>();
      for (const line of lines) {
        const colon = line.indexOf(':');
        parsed.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
      }
      let body: Buffer = raw.subarray(split + 4);
      if (parsed.get('transfer-encoding') === 'chunked') body = dechunk(body);
      resolve({
        status: Number(statusLine.split(' ')[1]),
        headers: parsed,
        body: body.toString('utf8'),
        head: raw.subarray(0, split).toString('latin1'),
      });
    });
    socket.write(
      `${requestLine}\r\nHost: localhost\r\nConnection: close\r\n${headers.map((h) => `${h}\r\n`).join('')}\r\n`,
    );
    if (body) socket.write(body);
  });
}

function dechunk(raw: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = raw.indexOf('\r\n', at);
    const size = Number.parseInt(raw.subarray(at, eol).toString('latin1'), 16);
    if (!size) return Buffer.concat(parts);
    parts.push(raw.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
}
