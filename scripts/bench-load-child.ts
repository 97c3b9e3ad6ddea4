/**
 * The processes of the load benchmark (scripts/bench-load.ts), one role each, so no role shares an
 * event loop or a core's time slice with another:
 *   bare             a bare node:http handler (the ceiling every ratio is measured against)
 *   bridge <redis>   the Upstash REST bridge, as Upstash is a separate service in production; a GET to
 *                    its `statsPort` answers how many REST requests it has served (Redis round trips)
 *   answer <json>    the bare handler writing one given answer (status, headers, body) to every request: a
 *                    whoami's own answer, canned, is the ceiling of a whoami on this machine without the
 *                    pipeline (node:http writing the headers docs/API.md asks for)
 *   limited <url> <token>
 *                    the bare handler, but each request first makes a key-authenticated request's two
 *                    Upstash calls (the tier limit and the key's touch, lib/ratelimit) through the bridge
 *                    at <url>: the services-mode floor of a whoami on this machine, without the pipeline
 *   client <json>    one autocannon run; prints its result as one JSON line
 * Each prints one `READY {json}` line on stdout when it is listening (client: its result).
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import autocannon from 'autocannon';
import { bridgeRequests, startUpstashBridge } from '../tests/support/upstash-bridge.js';

const [role, arg, token] = process.argv.slice(2);
const ready = (value: unknown) => process.stdout.write(`READY ${JSON.stringify(value)}\n`);

if (role === 'bare') {
  const body = Buffer.from('{"ok":true}');
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
  });
  server.listen(0, '127.0.0.1', () => ready({ port: (server.address() as AddressInfo).port }));
} else if (role === 'answer' && arg) {
  const { status, headers, body } = JSON.parse(arg) as {
    status: number;
    headers: Record<string, string>;
    body: string;
  };
  const bytes = Buffer.from(body);
  const server = createServer((_req, res) => {
    res.writeHead(status, { ...headers, 'content-length': bytes.length });
    res.end(bytes);
  });
  server.listen(0, '127.0.0.1', () => ready({ port: (server.address() as AddressInfo).port }));
} else if (role === 'limited' && arg && token) {
  const { createUpstashLimiter, createUpstashRedis } = await import('../lib/ratelimit/upstash.js');
  const { createRedisSignals } = await import('../lib/ratelimit/signals.js');
  const { policies } = await import('../lib/ratelimit/policies.js');
  const options = { url: arg, token, prefix: `heirbench_${randomBytes(6).toString('hex')}` };
  const redis = createUpstashRedis(options);
  const limiter = createUpstashLimiter(options, redis);
  const signals = createRedisSignals(redis, options.prefix, 300);
  const body = Buffer.from('{"ok":true}');
  let n = 0;
  const server = createServer(async (_req, res) => {
    // 160 identifiers in turn, as the server's whoami uses 160 keys: no run reaches a limit.
    const id = `key-${n++ % 160}`;
    const [limit] = await Promise.allSettled([
      limiter.limit(policies.tier.internal, id),
      signals.touch(`hash-${id}`, id, Date.now(), '127.0.0.1'),
    ]);
    res.writeHead(limit.status === 'fulfilled' && limit.value.allowed ? 200 : 503, {
      'content-type': 'application/json',
      'content-length': body.length,
    });
    res.end(body);
  });
  server.listen(0, '127.0.0.1', () => ready({ port: (server.address() as AddressInfo).port }));
} else if (role === 'bridge' && arg) {
  const token = randomBytes(16).toString('hex');
  const bridge = await startUpstashBridge({ redisUrl: arg, token });
  const stats = createServer((_req, res) => res.end(String(bridgeRequests(bridge.url))));
  stats.listen(0, '127.0.0.1', () =>
    ready({ url: bridge.url, token, statsPort: (stats.address() as AddressInfo).port }),
  );
} else if (role === 'client' && arg) {
  const options = JSON.parse(arg) as autocannon.Options;
  const result = await autocannon(options);
  ready({
    rps: result.requests.average,
    total: result.requests.total,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  });
} else {
  console.error(
    'usage: bench-load-child.ts bare | answer <json> | bridge <redis url> | limited <bridge url> <token> | client <options json>',
  );
  process.exit(2);
}
