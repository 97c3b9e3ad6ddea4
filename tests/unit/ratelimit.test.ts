import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createTcpServer, type Socket, type Server as TcpServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Redis as UpstashRedis } from '@upstash/redis';
import { Redis as IoRedis } from 'ioredis';
import {
  type RateLimiter,
  RateLimiterUnavailableError,
  type RateLimitPolicy,
  windowStart,
} from '../../lib/ratelimit/limiter.js';
import { createMemoryLimiter, FixedWindowCounters } from '../../lib/ratelimit/memory.js';
import { createUpstashLimiter, createUpstashRedis } from '../../lib/ratelimit/upstash.js';
import { bridgeRequests, startUpstashBridge, type UpstashBridge } from '../support/upstash-bridge.js';

const REDIS_URL = process.env.REDIS_URL;
const TOKEN = `bridge-token-${randomBytes(8).toString('hex')}`;
/** Every Redis key this run writes starts with it, and is deleted at the end. */
const PREFIX = `heir-test-${randomBytes(6).toString('hex')}`;
const HOUR = 3600;

function newPolicy(limit: number, windowSeconds = HOUR): RateLimitPolicy {
  return { name: `p-${randomUUID().slice(0, 8)}`, limit, windowSeconds };
}

/**
 * The Upstash limiter reads the real clock, so a test could straddle a window boundary. When a failure
 * coincides with a boundary crossing, run the body again with a fresh identifier in the new window.
 */
async function inOneWindow(windowSeconds: number, body: (id: string) => Promise<void>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const start = windowStart(Date.now(), windowSeconds);
    try {
      return await body(`id-${randomUUID()}`);
    } catch (error) {
      if (attempt === 3 || windowStart(Date.now(), windowSeconds) === start) throw error;
    }
  }
}

function windowEnd(nowMs: number, windowSeconds: number): number {
  return windowStart(nowMs, windowSeconds) + windowSeconds * 1000;
}

/** One suite, run against every implementation: they must agree exactly. */
function limiterContract(limiter: () => RateLimiter): void {
  it('counts down the remaining requests', async () => {
    const policy = newPolicy(3);
    await inOneWindow(policy.windowSeconds, async (id) => {
      for (const remaining of [2, 1, 0]) {
        const res = await limiter().limit(policy, id);
        assert.equal(res.allowed, true);
        assert.equal(res.remaining, remaining);
        assert.equal(res.limit, 3);
      }
    });
  });

  it('refuses the (limit+1)th request', async () => {
    const policy = newPolicy(2);
    await inOneWindow(policy.windowSeconds, async (id) => {
      await limiter().limit(policy, id);
      await limiter().limit(policy, id);
      const refused = await limiter().limit(policy, id);
      assert.deepEqual(
        { allowed: refused.allowed, remaining: refused.remaining },
        { allowed: false, remaining: 0 },
      );
      assert.equal((await limiter().limit(policy, id)).allowed, false);
    });
  });

  it('still counts a refused request, as @upstash/ratelimit fixedWindow does', async () => {
    const policy = newPolicy(5);
    await inOneWindow(policy.windowSeconds, async (id) => {
      assert.equal((await limiter().limit(policy, id, 3)).allowed, true);
      assert.equal((await limiter().limit(policy, id, 3)).allowed, false);
      // 3 + 1 would fit, but the refused 3 were counted too.
      assert.equal((await limiter().limit(policy, id, 1)).allowed, false);
    });
  });

  it('counts a cost greater than one', async () => {
    const policy = newPolicy(10);
    await inOneWindow(policy.windowSeconds, async (id) => {
      assert.equal((await limiter().limit(policy, id, 4)).remaining, 6);
      const last = await limiter().limit(policy, id, 6);
      assert.deepEqual({ allowed: last.allowed, remaining: last.remaining }, { allowed: true, remaining: 0 });
      assert.equal((await limiter().limit(policy, id, 1)).allowed, false);
    });
  });

  it('rejects a cost that is not a positive integer', async () => {
    const policy = newPolicy(10);
    for (const cost of [0, -1, 1.5, Number.NaN]) {
      await assert.rejects(limiter().limit(policy, 'bad-cost', cost), RangeError);
    }
  });

  it('peeks without counting', async () => {
    const policy = newPolicy(3);
    await inOneWindow(policy.windowSeconds, async (id) => {
      const fresh = await limiter().peek(policy, id);
      assert.deepEqual(
        { allowed: fresh.allowed, remaining: fresh.remaining },
        { allowed: true, remaining: 3 },
      );
      await limiter().limit(policy, id);
      assert.equal((await limiter().peek(policy, id)).remaining, 2);
      assert.equal((await limiter().peek(policy, id)).remaining, 2);
      await limiter().limit(policy, id, 2);
      const spent = await limiter().peek(policy, id);
      assert.deepEqual(
        { allowed: spent.allowed, remaining: spent.remaining },
        { allowed: false, remaining: 0 },
      );
    });
  });

  it('reset clears the current window', async () => {
    const policy = newPolicy(2);
    await inOneWindow(policy.windowSeconds, async (id) => {
      await limiter().limit(policy, id, 3);
      await limiter().reset(policy, id);
      assert.equal((await limiter().peek(policy, id)).remaining, 2);
      const res = await limiter().limit(policy, id);
      assert.deepEqual({ allowed: res.allowed, remaining: res.remaining }, { allowed: true, remaining: 1 });
    });
  });

  it('reset leaves look-alike identifiers alone (colons and glob characters)', async () => {
    const policy = newPolicy(1);
    await inOneWindow(policy.windowSeconds, async (id) => {
      const others = [`${id}:sub`, `${id}*`, `${id}?`, '*', `[${id}]`];
      for (const identifier of [id, ...others]) await limiter().limit(policy, identifier);
      await limiter().reset(policy, id);
      await limiter().reset(policy, '*');
      assert.equal((await limiter().peek(policy, id)).remaining, 1);
      assert.equal((await limiter().peek(policy, '*')).remaining, 1);
      for (const other of others.filter((o) => o !== '*')) {
        assert.equal((await limiter().peek(policy, other)).remaining, 0, other);
      }
    });
  });

  it('keeps identifiers apart', async () => {
    const policy = newPolicy(1);
    await inOneWindow(policy.windowSeconds, async (id) => {
      assert.equal((await limiter().limit(policy, id)).allowed, true);
      assert.equal((await limiter().limit(policy, `${id}-other`)).allowed, true);
      assert.equal((await limiter().limit(policy, id)).allowed, false);
    });
  });

  it('keeps policies apart', async () => {
    const first = newPolicy(1);
    const second = newPolicy(1);
    await inOneWindow(HOUR, async (id) => {
      assert.equal((await limiter().limit(first, id)).allowed, true);
      assert.equal((await limiter().limit(second, id)).allowed, true);
      assert.equal((await limiter().limit(first, id)).allowed, false);
      assert.equal((await limiter().peek(second, id)).remaining, 0);
    });
  });

  it('reports reset as the end of the epoch-aligned window (:00/:15/:30/:45 for 900 s)', async () => {
    const policy = newPolicy(5, 900);
    await inOneWindow(policy.windowSeconds, async (id) => {
      const expected = windowEnd(Date.now(), 900);
      const counted = await limiter().limit(policy, id);
      const peeked = await limiter().peek(policy, id);
      assert.equal(counted.reset, expected);
      assert.equal(peeked.reset, expected);
      const end = new Date(counted.reset);
      assert.equal(end.getUTCMinutes() % 15, 0);
      assert.equal(end.getUTCSeconds(), 0);
      assert.equal(end.getUTCMilliseconds(), 0);
    });
  });

  it('answers ping', async () => {
    assert.equal(await limiter().ping(), true);
  });
}

describe('memory limiter', () => {
  describe('contract', () => {
    const limiter = createMemoryLimiter();
    limiterContract(() => limiter);
  });

  it('rolls over to a new window when the clock crosses the boundary', async () => {
    const policy = newPolicy(2, 60);
    let now = windowEnd(Date.UTC(2030, 0, 1, 12, 0, 30), 60) - 1;
    const limiter = createMemoryLimiter({ now: () => now });
    await limiter.limit(policy, 'a', 2);
    assert.equal((await limiter.limit(policy, 'a')).allowed, false);
    now += 1;
    const res = await limiter.limit(policy, 'a');
    assert.deepEqual(res, { allowed: true, limit: 2, remaining: 1, reset: now + 60_000 });
  });

  it('drops the counters of windows that have ended', () => {
    const policy = newPolicy(5, 60);
    const counters = new FixedWindowCounters();
    const start = Date.UTC(2030, 0, 1);
    for (let i = 0; i < 100; i++) counters.add(policy, `id-${i}`, start, 1);
    assert.equal(counters.size, 100);
    counters.add(policy, 'late', start + 60_000 + 10_000, 1);
    assert.equal(counters.size, 1);
  });
});

describe('upstash limiter fails closed', () => {
  it('throws RateLimiterUnavailableError, not success, when nothing listens', async () => {
    const limiter = createUpstashLimiter({
      url: `http://127.0.0.1:${await unusedPort()}`,
      token: TOKEN,
      prefix: PREFIX,
    });
    await assertUnavailableWithin(3000, limiter);
  });

  it('throws RateLimiterUnavailableError when the server accepts but never answers', async () => {
    const silent = await startSilentServer();
    try {
      const limiter = createUpstashLimiter({ url: silent.url, token: TOKEN, prefix: PREFIX });
      await assertUnavailableWithin(3000, limiter);
    } finally {
      await silent.close();
    }
  });
});

describe('upstash limiter budget', () => {
  it('bounds the whole call, not each request: EVALSHA then EVAL, each under the budget, fail as unavailable', async () => {
    // EVALSHA is answered NOSCRIPT and the EVAL fallback succeeds, each after 60% of the budget. Each
    // request fits its own timeout, so per-request timeouts alone would let the call succeed after 120%
    // of the budget; the call's deadline must refuse it instead. (However slow the machine, the call can
    // only succeed by finishing two such requests inside one budget, which it cannot.)
    const budgetMs = 400;
    const server = createHttpServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => {
        body += chunk;
      });
      req.on('end', () => {
        if (req.method !== 'POST') return res.end();
        const command = String([JSON.parse(body)].flat(2)[0]).toLowerCase();
        setTimeout(() => {
          const noScript = command === 'evalsha';
          res.writeHead(noScript ? 400 : 200, { 'content-type': 'application/json' });
          res.end(JSON.stringify(noScript ? { error: 'NOSCRIPT No matching script.' } : { result: 1 }));
        }, budgetMs * 0.6);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    try {
      const limiter = createUpstashLimiter({
        url: `http://127.0.0.1:${port}`,
        token: TOKEN,
        prefix: PREFIX,
        timeoutMs: budgetMs,
      });
      await assert.rejects(limiter.limit(newPolicy(10), 'x'), (error: unknown) => {
        assert.ok(error instanceof RateLimiterUnavailableError);
        assert.match(String((error.cause as Error).message), new RegExp(`no answer within ${budgetMs} ms`));
        return true;
      });
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

async function assertUnavailableWithin(ms: number, limiter: RateLimiter): Promise<void> {
  const policy = newPolicy(10);
  const timed = async (call: Promise<unknown>) => {
    const started = performance.now();
    await assert.rejects(call, RateLimiterUnavailableError);
    const elapsed = performance.now() - started;
    assert.ok(elapsed < ms, `took ${Math.round(elapsed)} ms`);
  };
  // Concurrently, so a hanging server costs one timeout rather than four.
  await Promise.all([
    timed(limiter.limit(policy, 'x')),
    timed(limiter.peek(policy, 'x')),
    timed(limiter.reset(policy, 'x')),
    limiter.ping().then((up) => assert.equal(up, false)),
  ]);
}

describe('upstash limiter through the REST bridge to Redis', {
  skip: REDIS_URL ? false : 'REDIS_URL is not set: start Redis and set REDIS_URL to run these',
}, () => {
  let bridge: UpstashBridge | undefined;
  let limiter: RateLimiter | undefined;

  before(async () => {
    bridge = await startUpstashBridge({ redisUrl: requireRedisUrl(), token: TOKEN });
    limiter = createUpstashLimiter({ url: bridge.url, token: TOKEN, prefix: PREFIX });
  });

  after(async () => {
    await bridge?.close();
    const left = await deleteKeysWithPrefix(PREFIX);
    assert.equal(left, 0, 'keys left in Redis after cleanup');
  });

  describe('contract', () => limiterContract(() => required(limiter)));

  it('writes its counters under <prefix>:rl:<policy>', async () => {
    const policy = newPolicy(3);
    await required(limiter).limit(policy, 'visible');
    const keys = await withIoRedis((redis) => redis.keys(`${PREFIX}:rl:${policy.name}:visible:*`));
    assert.equal(keys.length, 1);
  });

  describe('concurrent calls share /pipeline requests (lib/ratelimit/pipeline-batcher.ts)', () => {
    // Immediates queued together run as separate tasks of one turn, as the I/O callbacks of several
    // sockets do; the batcher's flush, queued while they run, comes in the next turn. (Timers of 0 ms
    // were not enough: on a loaded machine their creation can straddle a millisecond, and they then
    // fire in two turns.)
    const inTasks = <T>(n: number, call: (i: number) => Promise<T>) =>
      Promise.allSettled(
        Array.from(
          { length: n },
          (_, i) => new Promise<T>((resolve, reject) => setImmediate(() => call(i).then(resolve, reject))),
        ),
      );

    it('40 limit calls on a 25-limit key: fewer requests than calls, exactly 25 allowed, each its own count', async () => {
      const policy = newPolicy(25);
      await inOneWindow(policy.windowSeconds, async (id) => {
        await required(limiter).limit(newPolicy(1), 'warm'); // the script is known: no NOSCRIPT round
        const before = bridgeRequests(required(bridge).url);
        const outcomes = await inTasks(40, () => required(limiter).limit(policy, id));
        const requests = bridgeRequests(required(bridge).url) - before;
        const results = outcomes.map((o) =>
          o.status === 'fulfilled' ? o.value : assert.fail(String(o.reason)),
        );
        assert.ok(requests < 40, `${requests} requests for 40 calls`);
        assert.equal(results.filter((r) => r.allowed).length, 25);
        assert.deepEqual(
          results
            .filter((r) => r.allowed)
            .map((r) => r.remaining)
            .sort((a, b) => a - b),
          Array.from({ length: 25 }, (_, i) => i),
          'each allowed call saw its own count',
        );
      });
    });

    it('a command that fails inside a shared request fails only its caller', async () => {
      const redis = createUpstashRedis({ url: required(bridge).url, token: TOKEN, prefix: PREFIX });
      const k = `${PREFIX}:kv:batch:${randomUUID()}`;
      await redis.set(k, 'not a number', { ex: 600 });
      const before = bridgeRequests(required(bridge).url);
      const [incr, get, exists] = await inTasks(3, (i) =>
        i === 0 ? redis.incr(k) : i === 1 ? redis.get(k) : redis.exists(k),
      );
      assert.equal(bridgeRequests(required(bridge).url) - before, 1, 'three callers, one request');
      assert.equal(incr?.status, 'rejected');
      assert.match(String((incr as PromiseRejectedResult).reason), /not an integer/);
      assert.deepEqual(get, { status: 'fulfilled', value: 'not a number' });
      assert.deepEqual(exists, { status: 'fulfilled', value: 1 });
    });
  });

  describe('bridge', () => {
    const client = (responseEncoding?: false) =>
      new UpstashRedis({ url: required(bridge).url, token: TOKEN, responseEncoding, enableTelemetry: false });
    const key = (name: string) => `${PREFIX}:kv:${name}:${randomUUID()}`;
    // Keys expire on their own too, in case a run dies before its cleanup.
    const TTL = 600;

    it('round-trips a non-ASCII value through base64 encoding', async () => {
      const value = 'héllo — 日本語 🎉';
      const k = key('unicode');
      await client().set(k, value, { ex: TTL });
      assert.equal(await client().get(k), value);
      assert.equal(await client(false).get(k), value);
      const raw = await postRaw('/', ['GET', k], { 'upstash-encoding': 'base64' });
      assert.deepEqual(raw.body, { result: Buffer.from(value).toString('base64') });
    });

    it('returns binary values byte for byte', async () => {
      const k = key('binary');
      const bytes = Buffer.from([0xff, 0x00, 0x80, 0xc3]);
      await withIoRedis((redis) => redis.set(k, bytes, 'EX', TTL));
      const raw = await postRaw('/', ['GET', k], { 'upstash-encoding': 'base64' });
      assert.deepEqual(Buffer.from(String(raw.body.result), 'base64'), bytes);
    });

    it('runs a pipeline and keeps per-command errors', async () => {
      const k = key('pipeline');
      const results = await client()
        .pipeline()
        .set(k, 'v')
        .append(k, 'w')
        .incr(k)
        .get(k)
        .expire(k, TTL)
        .exec({ keepErrors: true });
      assert.deepEqual(
        results.map((r) => r.result),
        ['OK', 2, undefined, 'vw', 1],
      );
      assert.match(String(results[2]?.error), /not an integer/);
    });

    it('runs multi-exec atomically', async () => {
      const k = key('multi');
      const results = await client().multi().incr(k).incrby(k, 5).get(k).expire(k, TTL).exec();
      assert.deepEqual(results, [1, 6, 6, 1]);
    });

    it('passes replies through raw (HGETALL stays a flat array)', async () => {
      const k = key('hash');
      await client().hset(k, { a: 'x', b: 'y' });
      await client().expire(k, TTL);
      assert.deepEqual(await client().hgetall(k), { a: 'x', b: 'y' });
      const raw = await postRaw('/', ['HGETALL', k], {});
      assert.deepEqual(raw.body, { result: ['a', 'x', 'b', 'y'] });
    });

    it('runs scripts with a #!lua line and maps their hashes', async () => {
      const script = '#!lua flags=allow-key-locking\nreturn ARGV[1]';
      const hash = createHash('sha1').update(script).digest('hex');
      await assert.rejects(client().evalsha(hash, [], ['x']), /NOSCRIPT/);
      assert.equal(await client().eval(script, [], ['first']), 'first');
      assert.equal(await client().evalsha(hash, [], ['second']), 'second');
      assert.equal(await client().scriptLoad(script), hash);
      assert.deepEqual(await client().scriptExists(hash), [1]);
    });

    it('answers errors as {error} with status 400', async () => {
      const raw = await postRaw('/', ['NOSUCHCOMMAND'], {});
      assert.equal(raw.status, 400);
      assert.match(String(raw.body.error), /unknown command/i);
    });

    it('refuses a wrong token with 401', async () => {
      const raw = await postRaw('/', ['PING'], {}, 'wrong-token');
      assert.equal(raw.status, 401);
      const stranger = new UpstashRedis({ url: required(bridge).url, token: 'wrong-token', retry: false });
      await assert.rejects(stranger.ping());
    });

    async function postRaw(
      path: string,
      body: unknown,
      headers: Record<string, string>,
      token = TOKEN,
    ): Promise<{ status: number; body: { result?: unknown; error?: unknown } }> {
      const res = await fetch(`${required(bridge).url}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as { result?: unknown; error?: unknown } };
    }
  });
});

function required<T>(value: T | undefined): T {
  assert.ok(value !== undefined, 'set up in before()');
  return value;
}

function requireRedisUrl(): string {
  return required(REDIS_URL);
}

async function withIoRedis<T>(use: (redis: IoRedis) => Promise<T>): Promise<T> {
  const redis = new IoRedis(requireRedisUrl(), { protocol: 2 });
  try {
    return await use(redis);
  } finally {
    await redis.quit();
  }
}

/** SCAN + DEL everything under the prefix; returns how many such keys are still there afterwards. */
async function deleteKeysWithPrefix(prefix: string): Promise<number> {
  return withIoRedis(async (redis) => {
    const pattern = `${prefix}:*`;
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
    return (await redis.keys(pattern)).length;
  });
}

/** A port nothing listens on: bind an ephemeral one, then let it go. */
async function unusedPort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  assert.ok(address && typeof address === 'object');
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return address.port;
}

/** Accepts connections and never answers: a Redis REST endpoint that hangs. */
async function startSilentServer(): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: TcpServer = createTcpServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  assert.ok(address && typeof address === 'object');
  return {
    url: `http://127.0.0.1:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
