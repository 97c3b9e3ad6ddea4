/**
 * `npm run dev`: serves the API on node:http with Vercel's routing (scripts/vercel-local.ts) over the
 * same functions Vercel deploys, run from the sources (each file under api/ re-exports a bundle of them
 * that only the build makes). With no settings it runs embedded: PGlite in DATA_DIR (default
 * ./.data; `memory` for none) and the in-process limiter. With REDIS_URL it starts the Upstash REST
 * bridge so the real @upstash/ratelimit path runs against local Redis. It builds the developer portal
 * (scripts/build-portal.ts) into public/ first; the portal is at /portal/.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse, STATUS_CODES } from 'node:http';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { loadEnvFiles } from './load-env.js';
import { NodeIncoming, type Written, writeAnswer } from './node-exchange.js';
import {
  createVercelRouter,
  FUNCTION_METHODS,
  functionExports,
  platformNotFound,
  staticResponse,
} from './vercel-local.js';

const envFiles = loadEnvFiles();
if (envFiles.length > 0) console.log(`Read ${envFiles.join(' and ')} (variables already set win)`);
const port = Number(process.env.PORT || 3000);
const dataDir = process.env.DATA_DIR || './.data';
process.env.DATA_DIR = dataDir;
process.env.APP_URL ||= `http://localhost:${port}`;
let generatedAdminKey: string | null = null;
if (!process.env.ADMIN_KEY) {
  // Kept beside the dev database (like the signing key), so the key in a terminal survives a restart.
  const file = dataDir === 'memory' ? null : join(dataDir, 'admin-key');
  generatedAdminKey =
    file && existsSync(file)
      ? readFileSync(file, 'utf8').trim()
      : `adm_${randomBytes(24).toString('base64url')}`;
  if (file && !existsSync(file)) {
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(file, `${generatedAdminKey}\n`, { mode: 0o600 });
  }
  process.env.ADMIN_KEY = generatedAdminKey;
}
if (!process.env.JWT_PRIVATE_KEYS && process.env.DATA_DIR !== 'memory') {
  // Keep the dev signing key beside the dev database, so logins survive a restart.
  const { generateSigningJwk } = await import('../lib/identity/signing-keys.js');
  const file = join(process.env.DATA_DIR, 'jwt-keys.json');
  if (!existsSync(file)) {
    mkdirSync(process.env.DATA_DIR, { recursive: true });
    writeFileSync(file, JSON.stringify([await generateSigningJwk()]), { mode: 0o600 });
  }
  process.env.JWT_PRIVATE_KEYS = readFileSync(file, 'utf8');
}
if (process.env.REDIS_URL && !process.env.UPSTASH_REDIS_REST_URL && !process.env.KV_REST_API_URL) {
  const { startUpstashBridge } = await import('../tests/support/upstash-bridge.js');
  const token = randomBytes(16).toString('hex');
  const bridge = await startUpstashBridge({ redisUrl: process.env.REDIS_URL, token });
  process.env.UPSTASH_REDIS_REST_URL = bridge.url;
  process.env.UPSTASH_REDIS_REST_TOKEN = token;
}

// The portal's pages in public/ are built output (not committed): build them before serving.
const { buildPortal } = await import('./build-portal.js');
await buildPortal();

const { ConfigError, loadConfig } = await import('../lib/config.js');
const { getDefaultApp } = await import('../lib/app.js');
const { migrate } = await import('../lib/db/migrate.js');
let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig();
} catch (error) {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
}
if (config.database.kind === 'pglite') {
  // Creating PGlite's data folder takes 20–60 s the first time; say so instead of sitting silent.
  const dir = config.database.dataDir;
  console.log(
    dir === null
      ? 'Starting the embedded in-memory database (DATA_DIR=memory: nothing is kept)…'
      : existsSync(join(dir, 'PG_VERSION'))
        ? `Opening the embedded database in ${dir}…`
        : `Creating the embedded database in ${dir} (first run only; this takes up to a minute)…`,
  );
}
const started = performance.now();
const app = await getDefaultApp();
if (app.database.kind !== 'pglite') await migrate(app.database);

const router = createVercelRouter();
const { answerRequest, invalidRequest, methodRefusal } = await import('../lib/http/pipeline.js');

type FunctionModule = import('../lib/http/mount.js').Mounted;

/**
 * Each function is mounted once, on first use, and reused: `import()` of a cached module still runs
 * tsx's resolve hooks on every call, which cost more than the whole request pipeline.
 */
const functionModules = new Map<string, Promise<FunctionModule>>();
/** The same, once loaded: a request to a loaded function waits for nothing before the pipeline. */
const loadedModules = new Map<string, FunctionModule>();
function functionModule(file: string): Promise<FunctionModule> {
  let loading = functionModules.get(file);
  if (!loading) {
    loading = functionExports(file);
    loading.then(
      (module) => loadedModules.set(file, module),
      // A module that failed to load (a syntax error while editing) is retried on the next request.
      () => functionModules.delete(file),
    );
    functionModules.set(file, loading);
  }
  return loading;
}

/**
 * What Vercel (and, where Vercel answers before our code, our pipeline) would answer, and the headers
 * vercel.json adds to it when it is written. A function's request goes to the pipeline as node:http
 * parsed it (scripts/node-exchange.ts), to the same `answerRequest` that Vercel's Web handlers call
 * (lib/http/mount.ts): no Web Request or Response is built for it (decision 0036).
 */
interface Answered {
  readonly answer: Written;
  readonly routeHeaders: Readonly<Record<string, string>>;
  /** The request as the pipeline read it (a function's requests only). */
  readonly incoming?: NodeIncoming;
}

async function answer(req: IncomingMessage): Promise<Answered> {
  const method = req.method ?? 'GET';
  // Only origin-form targets (`/path`) name a resource here; CONNECT's `host:port` and the like do not.
  if (!req.url?.startsWith('/')) return { answer: invalidRequest(), routeHeaders: {} };
  const url = new URL(req.url, `http://${req.headers.host ?? `localhost:${port}`}`);
  const resolution = router.resolve(url);
  if (resolution.kind === 'static')
    return {
      answer: await written(staticResponse(resolution.file, method)),
      routeHeaders: resolution.headers,
    };
  if (resolution.kind === 'none')
    return { answer: await written(platformNotFound()), routeHeaders: resolution.headers };
  const module = loadedModules.get(resolution.file) ?? (await functionModule(resolution.file));
  // TRACE, CONNECT, PROPFIND …: no method handler of a function file (Vercel's runtime would not call
  // one), answered as the pipeline answers a method a path does not serve.
  if (!FUNCTION_METHODS.has(method)) {
    const origin = typeof req.headers.origin === 'string' ? req.headers.origin : null;
    return {
      answer: methodRefusal(app, module.router, resolution.url, origin),
      routeHeaders: resolution.headers,
    };
  }
  const incoming = new NodeIncoming(req, resolution.url);
  const answered = await answerRequest(app, module.router, incoming);
  return { answer: answered, routeHeaders: resolution.headers, incoming };
}

async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { answer: answered, routeHeaders, incoming } = await answer(req);
  writeAnswer(req, res, answered, routeHeaders, incoming);
}

/** A Web Response of the platform's own (a static file, Vercel's 404) as the server writes it. */
async function written(response: Response): Promise<Written> {
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  const body = response.body ? Buffer.from(await response.arrayBuffer()) : null;
  return { status: response.status, headers, body };
}

/** Writes a whole answer straight to a socket (a request Node's parser refused has no ServerResponse). */
function writeRaw(socket: Duplex, { answer: { status, headers, body }, routeHeaders }: Answered): void {
  const bytes = body === null ? Buffer.alloc(0) : Buffer.from(body);
  const head = [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`];
  for (const name in headers) head.push(`${name}: ${headers[name]}`);
  for (const name in routeHeaders) if (!(name in headers)) head.push(`${name}: ${routeHeaders[name]}`);
  head.push(`content-length: ${bytes.length}`, 'connection: close', '', '');
  socket.end(Buffer.concat([Buffer.from(head.join('\r\n')), bytes]));
}

const server = createServer((req, res) => {
  serve(req, res).catch((error: unknown) => {
    app.log.error('dev server error', { error });
    if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
    res.end('internal error\n');
  });
});
// CONNECT never reaches the request handler: Node hands over the raw socket. Answer it like TRACE.
server.on('connect', (req: IncomingMessage, socket: Duplex) => {
  answer(req)
    .then((answered) => writeRaw(socket, answered))
    .catch((error: unknown) => {
      app.log.error('dev server error', { error });
      socket.destroy();
    });
});
// A request line or header Node cannot parse (a lowercase or unknown method, a bad header): a 400
// problem instead of Node's bare one.
server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
  // A reset or a client too slow to finish its request gets no answer (nobody is listening for one).
  if (!socket.writable || error.code === 'ECONNRESET' || error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    socket.destroy();
    return;
  }
  writeRaw(socket, { answer: invalidRequest(), routeHeaders: {} });
});
// HOST=127.0.0.1 keeps it off other interfaces (the load benchmark sets it); by default, every one.
const onListening = () => {
  const mode = `${app.database.kind} database, ${app.limiter.kind} rate limiter, ready in ${((performance.now() - started) / 1000).toFixed(1)} s`;
  const address = server.address();
  const bound = typeof address === 'object' && address ? address.port : port; // PORT=0: a free port
  console.log(`HEIR Auth listening on http://localhost:${bound} (${mode})`);
  if (generatedAdminKey) {
    const kept = dataDir === 'memory' ? '' : ` (kept in ${join(dataDir, 'admin-key')})`;
    console.log(`Admin key${kept}; set ADMIN_KEY to choose your own: ${generatedAdminKey}`);
  }
  console.log(`Developer portal: http://localhost:${bound}/portal/`);
  console.log(`Try: curl -s http://localhost:${bound}/v1/tenants -H "x-admin-key: $ADMIN_KEY"`);
};
if (process.env.HOST) server.listen(port, process.env.HOST, onListening);
else server.listen(port, onListening);
