/**
 * The Upstash REST transport (lib/ratelimit/upstash-transport.ts) against small real HTTP servers: what
 * it sends, how it reads answers and errors, that it retries a dropped connection once, and that a
 * server which never answers costs no more than the budget. Counts and outcomes only, no durations
 * beyond a hang bound.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { createUpstashTransport, PipelinedRedis } from '../../lib/ratelimit/upstash-transport.js';

const servers: Server[] = [];
after(() => {
  for (const server of servers) server.closeAllConnections();
  for (const server of servers) server.close();
});

async function serve(handler: (req: IncomingMessage, body: string, res: ServerResponse) => void) {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => handler(req, body, res));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('Upstash transport', () => {
  it('sends each command as Upstash REST, and a tick of commands as one /pipeline request', async () => {
    const seen: { path: string | undefined; auth: string | undefined; body: unknown }[] = [];
    const url = await serve((req, body, res) => {
      seen.push({ path: req.url, auth: req.headers.authorization, body: JSON.parse(body) });
      const commands = JSON.parse(body) as unknown[];
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify(
          req.url === '/pipeline' ? commands.map((_, i) => ({ result: `r${i}` })) : { result: 'one' },
        ),
      );
    });
    const redis = new PipelinedRedis(createUpstashTransport({ url, token: 'tok', timeoutMs: 2_000 }));
    const [a, b] = await Promise.all([redis.get('a'), redis.get('b')]);
    assert.deepEqual([a, b], ['r0', 'r1']);
    assert.equal(seen.length, 1, 'two commands in one tick: one request');
    assert.deepEqual(seen[0], {
      path: '/pipeline',
      auth: 'Bearer tok',
      body: [
        ['get', 'a'],
        ['get', 'b'],
      ],
    });
  });

  it('an error answer becomes an UpstashError naming the command', async () => {
    const url = await serve((_req, _body, res) => {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'ERR wrong number of arguments' }));
    });
    const transport = createUpstashTransport({ url, token: 't', timeoutMs: 2_000 });
    await assert.rejects(transport.request({ body: ['get'] }), (error: Error) => {
      assert.equal(error.name, 'UpstashError');
      assert.match(error.message, /ERR wrong number of arguments, command was: \["get"\]/);
      return true;
    });
  });

  it('a dropped connection is retried once', async () => {
    let requests = 0;
    const url = await serve((req, _body, res) => {
      requests += 1;
      if (requests === 1) return req.socket.destroy();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ result: 'PONG' }));
    });
    const transport = createUpstashTransport({ url, token: 't', timeoutMs: 2_000 });
    assert.deepEqual(await transport.request({ body: ['ping'] }), { result: 'PONG' });
    assert.equal(requests, 2);
  });

  it('a server that never answers fails the request within the budget, with no retry', async () => {
    let requests = 0;
    const url = await serve(() => {
      requests += 1; // and never answer
    });
    const transport = createUpstashTransport({ url, token: 't', timeoutMs: 200 });
    const started = performance.now();
    await assert.rejects(transport.request({ body: ['ping'] }), /no answer within 200 ms/);
    assert.ok(performance.now() - started < 5_000, 'no hang');
    assert.equal(requests, 1);
  });
});
