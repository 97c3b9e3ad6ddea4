/**
 * The limiter while its store is down (lib/ratelimit/outage.ts), against a real Upstash client whose
 * REST endpoint never answers (a socket that accepts and stays silent, as a frozen Redis behind the
 * bridge does) or refuses connections. Quotas fall back to the instance's own exact counter; throttles
 * fail closed; `closed` mode fails everything closed; the fallback is logged at most once a minute.
 */
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Logger } from '../../lib/log.js';
import { RateLimiterUnavailableError, type RateLimitPolicy } from '../../lib/ratelimit/limiter.js';
import { type OutageMode, withOutagePolicy } from '../../lib/ratelimit/outage.js';
import { policies } from '../../lib/ratelimit/policies.js';
import { createUpstashLimiter } from '../../lib/ratelimit/upstash.js';
import { freePort } from '../faults/processes.js';

const quota: RateLimitPolicy = { name: 'q', limit: 3, windowSeconds: 900, onOutage: 'open' };
const throttle: RateLimitPolicy = { name: 't', limit: 3, windowSeconds: 900, onOutage: 'closed' };
const undeclared: RateLimitPolicy = { name: 'u', limit: 3, windowSeconds: 900 };

function recordingLog(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  const ignore = () => {};
  return {
    enabled: () => true,
    debug: ignore,
    info: ignore,
    error: ignore,
    warn: (message) => warnings.push(message),
    warnings,
  };
}

describe('rate limits while the store is down', () => {
  let silent: Server;
  const sockets = new Set<Socket>();
  let silentUrl = '';
  let refusedUrl = '';

  before(async () => {
    silent = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const address = silent.address();
    if (!address || typeof address === 'string') throw new Error('no port');
    silentUrl = `http://127.0.0.1:${address.port}`;
    refusedUrl = `http://127.0.0.1:${await freePort()}`;
  });
  after(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));
  });

  const limiterAt = (url: string, mode: OutageMode, log = recordingLog(), now = () => 0) =>
    withOutagePolicy(createUpstashLimiter({ url, token: 't', prefix: 'outage', timeoutMs: 100 }), {
      mode,
      log,
      now,
    });

  for (const [fault, url] of [
    ['frozen', () => silentUrl],
    ['refusing connections', () => refusedUrl],
  ] as const) {
    it(`${fault}: a quota is counted exactly by the instance's own limiter`, async () => {
      const limiter = limiterAt(url(), 'policy');
      const results = [];
      for (let i = 0; i < 5; i++) results.push(await limiter.limit(quota, 'caller'));
      assert.deepEqual(
        results.map((r) => [r.allowed, r.remaining]),
        [
          [true, 2],
          [true, 1],
          [true, 0],
          [false, 0],
          [false, 0],
        ],
      );
      assert.equal((await limiter.peek(quota, 'caller')).allowed, false);
      assert.equal((await limiter.peek(quota, 'someone else')).remaining, 3);
    });

    it(`${fault}: a throttle, and a policy that does not say, fail closed`, async () => {
      const limiter = limiterAt(url(), 'policy');
      await assert.rejects(limiter.limit(throttle, 'ip'), RateLimiterUnavailableError);
      await assert.rejects(limiter.limit(undeclared, 'ip'), RateLimiterUnavailableError);
      await assert.rejects(limiter.peek(throttle, 'ip'), RateLimiterUnavailableError);
      assert.equal(await limiter.ping(), false, '/api/health shows the limiter down');
    });
  }

  it('RATE_LIMIT_ON_OUTAGE=closed: quotas fail closed too', async () => {
    const limiter = limiterAt(refusedUrl, 'closed');
    await assert.rejects(limiter.limit(quota, 'caller'), RateLimiterUnavailableError);
  });

  it('falling open is logged at most once a minute', async () => {
    const log = recordingLog();
    let now = 0;
    const limiter = limiterAt(refusedUrl, 'policy', log, () => now);
    for (let i = 0; i < 5; i++) await limiter.limit(quota, `c${i}`);
    assert.equal(log.warnings.length, 1);
    now += 59_000;
    await limiter.limit(quota, 'later');
    assert.equal(log.warnings.length, 1);
    now += 1_000;
    await limiter.limit(quota, 'a minute on');
    assert.equal(log.warnings.length, 2);
  });

  it('every policy declares its class: quotas open, security throttles closed', () => {
    const open = Object.values({ ...policies.tier, ...policies })
      .filter((p): p is RateLimitPolicy => 'onOutage' in p && p.onOutage === 'open')
      .map((p) => p.name)
      .sort();
    assert.deepEqual(open, ['admin', 'internal', 'partner', 'person', 'public', 'refusals']);
    for (const p of Object.values(policies)) {
      if ('name' in p)
        assert.ok(p.onOutage === 'open' || p.onOutage === 'closed', `${p.name} declares its class`);
    }
  });
});
