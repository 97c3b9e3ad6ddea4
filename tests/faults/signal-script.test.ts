/**
 * The key's touch (lib/ratelimit/signals.ts) travels by its script's SHA-1, as @upstash/ratelimit's own
 * script does: the text goes once, then EVALSHA. A Redis that forgot its scripts (a restart, a failover,
 * SCRIPT FLUSH) gets EVAL once more, and the touch still counts and answers. On a Redis of the test's
 * own, so flushing its scripts cannot disturb other tests' round-trip counts on the machine's Redis.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Redis as IoRedis } from 'ioredis';
import { windowStart } from '../../lib/ratelimit/limiter.js';
import { createRedisSignals, type Signals } from '../../lib/ratelimit/signals.js';
import { createUpstashRedis } from '../../lib/ratelimit/upstash.js';
import { RATE_WINDOW_SECONDS } from '../../lib/vocabulary.js';
import { bridgeRequests, startUpstashBridge, type UpstashBridge } from '../support/upstash-bridge.js';
import { findRedisServer, type OwnRedis, startOwnRedis } from './processes.js';

const redisBinary = findRedisServer();
const skip = redisBinary ? false : 'redis-server not found: install Redis to run this test';
const TOKEN = `bridge-token-${randomBytes(8).toString('hex')}`;

describe('the key touch script, by hash', { skip }, () => {
  let redis: OwnRedis;
  let bridge: UpstashBridge;
  let admin: IoRedis;
  let signals: Signals;

  before(async () => {
    redis = await startOwnRedis(redisBinary as string);
    bridge = await startUpstashBridge({ redisUrl: redis.url, token: TOKEN });
    admin = new IoRedis(redis.url, { lazyConnect: true });
    await admin.connect();
    signals = createRedisSignals(
      createUpstashRedis({ url: bridge.url, token: TOKEN, prefix: 'sig', timeoutMs: 2_000 }),
      'sig',
      2_000,
    );
  });
  after(async () => {
    admin?.disconnect();
    await bridge?.close();
    await redis?.destroy();
  });

  /** EVAL and EVALSHA calls that ran a script: a NOSCRIPT answer is a failed call, not counted. */
  async function scriptCalls(): Promise<{ eval: number; evalsha: number }> {
    const stats = await admin.info('commandstats');
    const ran = (name: string) => {
      const line = stats.match(new RegExp(`cmdstat_${name}:calls=(\\d+),.*failed_calls=(\\d+)`));
      return Number(line?.[1] ?? 0) - Number(line?.[2] ?? 0);
    };
    return { eval: ran('eval'), evalsha: ran('evalsha') };
  }

  it('sends the text once, then only the hash; after Redis forgets it, the text once more', async () => {
    const at = Date.now();
    const touch = (address: string) => signals.touch('hash-a', 'key-a', at, address);

    const first = await touch('192.0.2.1');
    assert.deepEqual(first, { versions: '0:0', newAddress: false });
    assert.deepEqual(await scriptCalls(), { eval: 1, evalsha: 0 }, 'unknown script: NOSCRIPT, then EVAL');

    const trips = bridgeRequests(bridge.url);
    await signals.bump(['hash-a']);
    const second = await touch('192.0.2.2');
    assert.equal(bridgeRequests(bridge.url) - trips, 2, 'the bump, then one round trip for the touch');
    assert.deepEqual(second, { versions: '1:0', newAddress: true });
    assert.deepEqual(await scriptCalls(), { eval: 1, evalsha: 1 }, 'known script: EVALSHA alone');

    await admin.script('FLUSH');
    const third = await touch('192.0.2.2');
    assert.deepEqual(third, { versions: '1:0', newAddress: false });
    assert.deepEqual(await scriptCalls(), { eval: 2, evalsha: 1 }, 'forgotten script: EVAL once more');

    // Every touch was counted once, in the window it happened in.
    const window = windowStart(at, RATE_WINDOW_SECONDS);
    assert.deepEqual([...(await signals.usage('key-a', window, window))], [[window, 3]]);
  });
});
