/**
 * `npm run dev`: serves the API on node:http with Vercel's routing (scripts/vercel-local.ts) over the
 * same function files Vercel deploys. With no settings it runs embedded: PGlite in DATA_DIR (default
 * ./.data; `memory` for none) and the in-process limiter. With REDIS_URL it starts the Upstash REST
 * bridge so the real @upstash/ratelimit path runs against local Redis.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { extname, join } from 'node:path';
import { Readable } from 'node:stream';
import { loadEnvFiles } from './load-env.js';
import { createVercelRouter } from './vercel-local.js';

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
const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css',
  '.js': 'text/javascript',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

type MethodHandler = (request: Request) => Promise<Response>;

async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', `http://${req.headers.host ?? `localhost:${port}`}`);
  const resolution = router.resolve(url);
  if (resolution.kind === 'static') {
    res.writeHead(200, { 'content-type': MIME[extname(resolution.file)] ?? 'application/octet-stream' });
    res.end(await readFile(resolution.file));
    return;
  }
  if (resolution.kind === 'none') {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('The page could not be found\n');
    return;
  }
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  // As Vercel's edge does: the client IP comes from the connection, never from the client's headers.
  const ip = req.socket.remoteAddress ?? '127.0.0.1';
  headers.set('x-forwarded-for', ip);
  headers.set('x-real-ip', ip);
  const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
  const request = new Request(resolution.url, {
    method: req.method ?? 'GET',
    headers,
    ...(hasBody ? { body: Readable.toWeb(req) as ReadableStream, duplex: 'half' } : {}),
  } as RequestInit);
  const module = (await import(resolution.file)) as Record<string, MethodHandler | undefined>;
  const handler = module[request.method];
  const response = handler
    ? await handler(request)
    : new Response(null, { status: 405, headers: { allow: 'GET, POST, PUT, PATCH, DELETE, OPTIONS' } });
  res.writeHead(response.status, Object.fromEntries(response.headers));
  res.end(Buffer.from(await response.arrayBuffer()));
}

createServer((req, res) => {
  serve(req, res).catch((error: unknown) => {
    app.log.error('dev server error', { error });
    if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
    res.end('internal error\n');
  });
}).listen(port, () => {
  const mode = `${app.database.kind} database, ${app.limiter.kind} rate limiter, ready in ${((performance.now() - started) / 1000).toFixed(1)} s`;
  console.log(`HEIR Auth listening on http://localhost:${port} (${mode})`);
  if (generatedAdminKey) {
    const kept = dataDir === 'memory' ? '' : ` (kept in ${join(dataDir, 'admin-key')})`;
    console.log(`Admin key${kept}; set ADMIN_KEY to choose your own: ${generatedAdminKey}`);
  }
  console.log(`Try: curl -s http://localhost:${port}/v1/tenants -H "x-admin-key: $ADMIN_KEY"`);
});
