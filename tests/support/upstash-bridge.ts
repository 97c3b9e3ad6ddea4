import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';

/**
 * The Upstash REST protocol over a real Redis, so tests run @upstash/redis and @upstash/ratelimit unchanged
 * against Redis. It implements what @upstash/redis sends (see its HttpClient):
 *
 * - POST `/` with `["CMD", ...args]`            → `{result}`, or status 400 `{error}`
 * - POST `/pipeline` with `[[...], [...]]`      → `[{result} | {error}, ...]` (commands run in order)
 * - POST `/multi-exec` with `[[...], [...]]`    → the same, atomically (MULTI/EXEC)
 * - `Authorization: Bearer <token>`, else 401 `{error}`
 * - `Upstash-Encoding: base64`: strings in results (nested ones too) are base64 of the raw bytes, except a
 *   plain "OK", which Upstash leaves as is and the client special-cases.
 *
 * Redis 7 rejects the `#!lua flags=…` first line that @upstash/ratelimit ≥ 2.1 puts in its scripts, so that
 * line is blanked before Redis sees a script, and the client's hash of the original text is mapped to the
 * hash Redis knows. An unknown hash is passed through, so Redis answers NOSCRIPT and the client falls back
 * to EVAL, exactly as it does with Upstash.
 */

export interface UpstashBridge {
  readonly url: string;
  close(): Promise<void>;
}

/** HTTP requests served per bridge URL: each is one Redis round trip of a client (tests count them). */
const served = new Map<string, number>();

/** How many requests the bridge at `url` (started in this process) has answered so far. */
export function bridgeRequests(url: string): number {
  const count = served.get(url);
  if (count === undefined) throw new Error(`no Upstash bridge of this process listens at ${url}`);
  return count;
}

type Arg = string | number | boolean;
type Json = string | number | null | Json[];

interface Prepared {
  readonly name: string;
  readonly args: string[];
  /** Rewrites Redis' reply into what Upstash would have answered. */
  readonly finish: (reply: unknown) => unknown;
}

/** Commands that would change the state of the one connection every request shares. */
const CONNECTION_STATE_COMMANDS = new Set([
  'AUTH',
  'DISCARD',
  'EXEC',
  'HELLO',
  'MONITOR',
  'MULTI',
  'PSUBSCRIBE',
  'PUNSUBSCRIBE',
  'QUIT',
  'RESET',
  'SELECT',
  'SSUBSCRIBE',
  'SUBSCRIBE',
  'SUNSUBSCRIBE',
  'UNSUBSCRIBE',
  'UNWATCH',
  'WATCH',
]);

const SHEBANG = /^#!lua[^\n]*/;

export async function startUpstashBridge(opts: { redisUrl: string; token: string }): Promise<UpstashBridge> {
  const redis = await connectRedis(opts.redisUrl);
  const scripts = new ScriptHashes();
  let url = '';
  const server = createServer((req, res) => {
    served.set(url, (served.get(url) ?? 0) + 1);
    handle(req, res, { redis, scripts, token: opts.token }).catch((error: unknown) => {
      send(res, 500, { error: `ERR bridge: ${messageOf(error)}` });
    });
  });
  url = `http://127.0.0.1:${await listen(server)}`;
  served.set(url, 0);
  return {
    url,
    async close() {
      served.delete(url);
      await closeServer(server);
      await redis.quit();
    },
  };
}

async function connectRedis(url: string): Promise<Redis> {
  // RESP2, as Upstash speaks: under RESP3 a Lua `false` would come back as a boolean instead of null.
  const redis = new Redis(url, { protocol: 2, lazyConnect: true, maxRetriesPerRequest: 1 });
  // Failures reach the caller through each command; without a listener ioredis would also log them.
  redis.on('error', () => {});
  try {
    await redis.connect();
  } catch (error) {
    redis.disconnect();
    throw error;
  }
  return redis;
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((error) => (error ? reject(error) : resolve()));
    // @upstash/redis keeps connections alive; close() alone would wait for them to idle out.
    server.closeAllConnections();
  });
}

interface BridgeContext {
  readonly redis: Redis;
  readonly scripts: ScriptHashes;
  readonly token: string;
}

async function handle(req: IncomingMessage, res: ServerResponse, ctx: BridgeContext): Promise<void> {
  if (req.method !== 'POST') return send(res, 405, { error: 'ERR only POST is supported' });
  if (!authorized(req.headers.authorization, ctx.token)) return send(res, 401, { error: 'Unauthorized' });
  const base64 = req.headers['upstash-encoding'] === 'base64';
  let body: unknown;
  try {
    body = JSON.parse(await readBody(req));
  } catch {
    return send(res, 400, { error: 'ERR failed to parse the request body as JSON' });
  }
  const target = req.url ?? '/';
  const query = target.indexOf('?');
  const path = (query === -1 ? target : target.slice(0, query)).replace(/\/+$/, '');
  if (path === '') return runSingle(res, ctx, body, base64);
  if (path === '/pipeline') return runPipeline(res, ctx, body, base64);
  if (path === '/multi-exec') return runMultiExec(res, ctx, body, base64);
  return send(res, 404, { error: `ERR unknown path ${path}` });
}

async function runSingle(res: ServerResponse, ctx: BridgeContext, body: unknown, base64: boolean) {
  try {
    const command = prepare(body, ctx.scripts);
    const reply = await ctx.redis.callBuffer(command.name, ...command.args);
    send(res, 200, { result: toJson(command.finish(reply), base64) });
  } catch (error) {
    send(res, 400, { error: messageOf(error) });
  }
}

async function runPipeline(res: ServerResponse, ctx: BridgeContext, body: unknown, base64: boolean) {
  if (!isCommandList(body)) return send(res, 400, { error: 'ERR a pipeline is an array of commands' });
  const commands = body.map((command) => tryPrepare(command, ctx.scripts));
  const pipeline = ctx.redis.pipeline();
  for (const command of commands) {
    if (!(command instanceof Error)) pipeline.callBuffer(command.name, ...command.args);
  }
  const replies = (await pipeline.exec()) ?? [];
  let next = 0;
  const results = commands.map((command) =>
    command instanceof Error ? { error: command.message } : entry(command, replies[next++], base64),
  );
  send(res, 200, results);
}

async function runMultiExec(res: ServerResponse, ctx: BridgeContext, body: unknown, base64: boolean) {
  if (!isCommandList(body)) return send(res, 400, { error: 'ERR a transaction is an array of commands' });
  let commands: Prepared[];
  try {
    commands = body.map((command) => prepare(command, ctx.scripts));
  } catch (error) {
    return send(res, 400, { error: messageOf(error) });
  }
  const transaction = ctx.redis.multi();
  for (const command of commands) transaction.callBuffer(command.name, ...command.args);
  try {
    const replies = (await transaction.exec()) ?? [];
    send(
      res,
      200,
      commands.map((command, i) => entry(command, replies[i], base64)),
    );
  } catch (error) {
    // EXECABORT: a command was refused while queueing, so nothing ran.
    send(res, 400, { error: messageOf(error) });
  }
}

function entry(command: Prepared, reply: [Error | null, unknown] | undefined, base64: boolean) {
  if (!reply) return { error: 'ERR no reply from Redis' };
  const [error, result] = reply;
  return error ? { error: error.message } : { result: toJson(command.finish(result), base64) };
}

function tryPrepare(command: unknown, scripts: ScriptHashes): Prepared | Error {
  try {
    return prepare(command, scripts);
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}

/**
 * Validates a command and rewrites what Redis would refuse. Names go upper-case on purpose: ioredis keys
 * its reply transformers by lower-case name (HGETALL → object, …), and the bridge must pass Redis' replies
 * through untouched, as Upstash does.
 */
function prepare(command: unknown, scripts: ScriptHashes): Prepared {
  if (!Array.isArray(command) || command.length === 0 || !command.every(isArg)) {
    throw new Error('ERR a command is a non-empty array of strings and numbers');
  }
  const [first, ...rest] = command.map(String);
  const name = (first ?? '').toUpperCase();
  if (CONNECTION_STATE_COMMANDS.has(name)) throw new Error(`ERR ${name} is not supported over REST`);
  return rewriteScripts(name, rest, scripts);
}

function rewriteScripts(name: string, args: string[], scripts: ScriptHashes): Prepared {
  const unchanged = (reply: unknown) => reply;
  const [first, ...rest] = args;
  if (first === undefined) return { name, args, finish: unchanged };
  if (name === 'EVAL' || name === 'EVAL_RO') {
    return { name, args: [scripts.strip(first).script, ...rest], finish: unchanged };
  }
  if (name === 'EVALSHA' || name === 'EVALSHA_RO') {
    return { name, args: [scripts.redisHash(first), ...rest], finish: unchanged };
  }
  if (name !== 'SCRIPT') return { name, args, finish: unchanged };
  const sub = first.toUpperCase();
  if (sub === 'LOAD' && rest[0] !== undefined) {
    const { script, originalHash } = scripts.strip(rest[0]);
    // Redis answers the hash of the stripped text; the client will EVALSHA the hash of what it sent.
    return { name, args: [first, script], finish: () => Buffer.from(originalHash) };
  }
  if (sub === 'EXISTS') {
    return { name, args: [first, ...rest.map((hash) => scripts.redisHash(hash))], finish: unchanged };
  }
  return { name, args, finish: unchanged };
}

/** Maps the SHA1 of a script as the client sent it to the SHA1 of the text Redis actually loaded. */
class ScriptHashes {
  readonly #toRedis = new Map<string, string>();
  /** EVAL sends the same few scripts on every call: each is hashed and stripped once. */
  readonly #stripped = new Map<string, { script: string; originalHash: string }>();

  strip(original: string): { script: string; originalHash: string } {
    const known = this.#stripped.get(original);
    if (known) return known;
    const originalHash = sha1(original);
    // Blank the line rather than drop it, so Lua error messages keep their line numbers.
    const script = original.replace(SHEBANG, '');
    if (script !== original) this.#toRedis.set(originalHash, sha1(script));
    const stripped = { script, originalHash };
    if (this.#stripped.size < 1_000) this.#stripped.set(original, stripped);
    return stripped;
  }

  redisHash(hash: string): string {
    return this.#toRedis.get(hash.toLowerCase()) ?? hash;
  }
}

function sha1(text: string): string {
  return createHash('sha1').update(text, 'utf8').digest('hex');
}

/** ioredis' buffer API hands back Buffers for every string reply, so binary values survive untouched. */
function toJson(reply: unknown, base64: boolean): Json {
  if (reply === null || typeof reply === 'number') return reply;
  if (Buffer.isBuffer(reply)) return base64 ? encodeBase64(reply) : reply.toString('utf8');
  if (typeof reply === 'string') return base64 ? encodeBase64(Buffer.from(reply)) : reply;
  if (Array.isArray(reply)) return reply.map((item) => toJson(item, base64));
  if (reply instanceof Error) return reply.message;
  throw new Error(`unexpected reply of type ${typeof reply}`);
}

function encodeBase64(bytes: Buffer): string {
  return bytes.length === 2 && bytes.toString('latin1') === 'OK' ? 'OK' : bytes.toString('base64');
}

function isCommandList(body: unknown): body is unknown[] {
  return Array.isArray(body) && body.length > 0;
}

function isArg(value: unknown): value is Arg {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
}

function authorized(header: string | undefined, token: string): boolean {
  const given = Buffer.from(header ?? '');
  const expected = Buffer.from(`Bearer ${token}`);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function readBody(req: IncomingMessage): Promise<string> {
  // Events rather than `for await`: the async iterator cost more than the rest of a request here.
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
