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
import { type Duplex, Readable } from 'node:stream';
import { loadEnvFiles } from './load-env.js';
import {
  createVercelRouter,
  FETCH_FORBIDDEN_METHODS,
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
const { bareProblem, refuseMethod } = await import('../lib/http/pipeline.js');
const { takeText } = await import('../lib/http/text-response.js');

type FunctionModule = import('../lib/http/mount.js').Mounted;
type Method = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'OPTIONS';

/**
 * Each function is mounted once, on first use, and reused: `import()` of a cached module still runs
 * tsx's resolve hooks on every call, which cost more than the whole request pipeline.
 */
const functionModules = new Map<string, Promise<FunctionModule>>();
function functionModule(file: string): Promise<FunctionModule> {
  let loaded = functionModules.get(file);
  if (!loaded) {
    loaded = functionExports(file);
    // A module that failed to load (a syntax error while editing) is retried on the next request.
    loaded.catch(() => functionModules.delete(file));
    functionModules.set(file, loaded);
  }
  return loaded;
}

/**
 * What Vercel (and, where Vercel answers before our code, our pipeline) would answer, and the headers
 * vercel.json adds to it (a header the response sets itself wins, as on Vercel). They are added when
 * the response is written, to a plain object: a has + set per header on the Response's Headers cost
 * more than the rest of the writing.
 */
interface Answer {
  readonly response: Response;
  readonly routeHeaders: Readonly<Record<string, string>>;
}

async function answer(req: IncomingMessage): Promise<Answer> {
  const method = req.method ?? 'GET';
  // Only origin-form targets (`/path`) name a resource here; CONNECT's `host:port` and the like do not.
  if (!req.url?.startsWith('/')) return { response: bareProblem('invalid_request'), routeHeaders: {} };
  const url = new URL(req.url ?? '/', `http://${req.headers.host ?? `localhost:${port}`}`);
  const resolution = router.resolve(url);
  if (resolution.kind === 'static')
    return { response: staticResponse(resolution.file, method), routeHeaders: resolution.headers };
  if (resolution.kind === 'none') return { response: platformNotFound(), routeHeaders: resolution.headers };
  const module = await functionModule(resolution.file);
  const handler = FUNCTION_METHODS.has(method) ? module[method as Method] : undefined;
  // TRACE, CONNECT, PROPFIND …: handled before `new Request`, which refuses some of them outright.
  if (!handler || FETCH_FORBIDDEN_METHODS.has(method)) {
    const origin = typeof req.headers.origin === 'string' ? req.headers.origin : null;
    const response = refuseMethod(app, module.router, resolution.url, origin);
    return { response, routeHeaders: resolution.headers };
  }
  // A plain object (Node's names are lower-case already): the Request fills its Headers once from it.
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  // As Vercel's edge does: the client IP comes from the connection, never from the client's headers.
  const ip = req.socket.remoteAddress ?? '127.0.0.1';
  headers['x-forwarded-for'] = ip;
  headers['x-real-ip'] = ip;
  const hasBody = method !== 'GET' && method !== 'HEAD';
  const request = new Request(resolution.url.href, {
    method,
    headers,
    ...(hasBody ? { body: Readable.toWeb(req) as ReadableStream, duplex: 'half' } : {}),
  } as RequestInit);
  return { response: await handler(request), routeHeaders: resolution.headers };
}

async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { response, routeHeaders } = await answer(req);
  const headers = headersOf(response, routeHeaders);
  // The pipeline's answers carry their body as one string (lib/http/text-response.ts): written as is,
  // with the head in one write, and no stream built or read.
  const body = takeText(response) ?? (await streamedBody(response));
  const length = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
  // The whole body is known: say its length rather than send it chunked.
  if (length > 0 && !('content-length' in headers)) headers['content-length'] = String(length);
  res.writeHead(response.status, headers);
  res.end(body);
}

/** A response's body as bytes (a string the pipeline built, or read off the stream). */
async function bodyOf(response: Response): Promise<Buffer> {
  const text = takeText(response);
  return text === null ? streamedBody(response) : Buffer.from(text);
}

/**
 * A response's body, read straight off its stream: `Response.arrayBuffer()` goes through the Fetch
 * spec's full-read machinery, which cost ~10× more per response than the reads themselves.
 */
async function streamedBody(response: Response): Promise<Buffer> {
  if (!response.body) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
  }
  return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
}

/** The response's headers, then vercel.json's where the response sets none of that name. */
function headersOf(
  response: Response,
  routeHeaders: Readonly<Record<string, string>>,
): Record<string, string> {
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  for (const name in routeHeaders) if (!(name in headers)) headers[name] = routeHeaders[name] as string;
  return headers;
}

/** Writes a whole response straight to a socket (a request Node's parser refused has no ServerResponse). */
async function writeRaw(socket: Duplex, { response, routeHeaders }: Answer): Promise<void> {
  const body = await bodyOf(response);
  const head = [`HTTP/1.1 ${response.status} ${STATUS_CODES[response.status] ?? ''}`];
  for (const [name, value] of Object.entries(headersOf(response, routeHeaders)))
    head.push(`${name}: ${value}`);
  head.push(`content-length: ${body.length}`, 'connection: close', '', '');
  socket.end(Buffer.concat([Buffer.from(head.join('\r\n')), body]));
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
  writeRaw(socket, { response: bareProblem('invalid_request'), routeHeaders: {} }).catch(() =>
    socket.destroy(),
  );
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
