/**
 * The processes of the load benchmark (scripts/bench-load.ts), one role each, so no role shares an
 * event loop or a core's time slice with another:
 *   bare             a bare node:http handler (the ceiling every ratio is measured against)
 *   bridge <redis>   the Upstash REST bridge, as Upstash is a separate service in production; a GET to
 *                    its `statsPort` answers how many REST requests it has served (Redis round trips)
 *   client <json>    one autocannon run; prints its result as one JSON line
 * Each prints one `READY {json}` line on stdout when it is listening (client: its result).
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import autocannon from 'autocannon';
import { bridgeRequests, startUpstashBridge } from '../tests/support/upstash-bridge.js';

const [role, arg] = process.argv.slice(2);
const ready = (value: unknown) => process.stdout.write(`READY ${JSON.stringify(value)}\n`);

if (role === 'bare') {
  const body = Buffer.from('{"ok":true}');
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
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
  console.error('usage: bench-load-child.ts bare | bridge <redis url> | client <autocannon options json>');
  process.exit(2);
}
