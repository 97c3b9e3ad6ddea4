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
import { Redis } from '@upstash/redis';
import { createUpstashTransport } from '../../lib/ratelimit/upstash-transport.js';

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

/** A server that drops the first connection it gets, then answers `reply(body)`; counts the requests. */
async function droppingFirst(reply: (body: string) => unknown) {
  let requests = 0;
  const url = await serve((req, body, res) => {
    requests += 1;
    if (requests === 1) return req.socket.destroy();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(reply(body)));
  });
  return { url, requests: () => requests };
}

describe('Upstash transport', () => {
  it('sends the commands of one turn as one Upstash REST /pipeline request', async () => {
    const seen: { path: string | undefined; auth: string | undefined; body: unknown }[] = [];
    const url = await serve((req, body, res) => {
      seen.push({ path: req.url, auth: req.headers.authorization, body: JSON.parse(body) });
      const commands = JSON.parse(body) as unknown[];
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(commands.map((_, i) => ({ result: `r${i}` }))));
    });
    const redis = new Redis(createUpstashTransport({ url, token: 'tok', timeoutMs: 2_000 }));
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

  it('a failing command becomes an UpstashError naming the command, as Upstash answers it alone', async () => {
    const url = await serve((_req, _body, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify([{ error: 'ERR wrong number of arguments' }]));
    });
    const transport = createUpstashTransport({ url, token: 't', timeoutMs: 2_000 });
    await assert.rejects(transport.request({ body: ['get'] }), (error: Error) => {
      assert.equal(error.name, 'UpstashError');
      assert.equal(error.message, 'ERR wrong number of arguments, command was: ["get"]');
      return true;
    });
  });

  it('a refused request (non-2xx) becomes an UpstashError naming the command', async () => {
    const url = await serve((_req, _body, res) => {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'ERR wrong number of arguments' }));
    });
    const transport = createUpstashTransport({ url, token: 't', timeoutMs: 2_000 });
    await assert.rejects(transport.request({ body: ['get'] }), (error: Error) => {
      assert.equal(error.name, 'UpstashError');
      assert.match(error.message, /ERR wrong number of arguments, command was: \[\["get"\]\]/);
      return true;
    });
  });

  it('a dropped connection is retried once', async () => {
    const server = await droppingFirst(() => [{ result: 'PONG' }]);
    const transport = createUpstashTransport({ url: server.url, token: 't', timeoutMs: 2_000 });
    assert.deepEqual(await transport.request({ body: ['ping'] }), { result: 'PONG' });
    assert.equal(server.requests(), 2);
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

  describe('concurrent /pipeline requests share one', () => {
    /** Answers each pipeline command with its name and first argument ("get:a"), or an error for "fail". */
    async function echoServer() {
      const seen: { path: string | undefined; body: unknown[][]; syncToken: unknown }[] = [];
      const url = await serve((req, body, res) => {
        const commands = JSON.parse(body) as unknown[][];
        seen.push({ path: req.url, body: commands, syncToken: req.headers['upstash-sync-token'] });
        res.writeHead(200, { 'content-type': 'application/json', 'upstash-sync-token': `s${seen.length}` });
        res.end(
          JSON.stringify(
            commands.map(([name, arg]) =>
              name === 'fail' || arg === 'fail'
                ? { error: `ERR ${arg} failed` }
                : { result: `${name}:${arg}` },
            ),
          ),
        );
      });
      return { url, seen };
    }
    const pipeline = (...commands: string[][]) => ({ path: ['pipeline'], body: commands });

    it('requests made in one turn travel as one, and each caller gets its own answers in order', async () => {
      const { url, seen } = await echoServer();
      const transport = createUpstashTransport({ url, token: 't', timeoutMs: 2_000 });
      const answers = await Promise.all([
        transport.request(pipeline(['get', 'a'], ['get', 'b'])),
        transport.request(pipeline(['fail', 'c'])),
        transport.request(pipeline(['get', 'd'])),
      ]);
      assert.equal(seen.length, 1, 'three callers, one request');
      assert.deepEqual(seen[0]?.body, [
        ['get', 'a'],
        ['get', 'b'],
        ['fail', 'c'],
        ['get', 'd'],
      ]);
      assert.deepEqual(answers, [
        [{ result: 'get:a' }, { result: 'get:b' }],
        [{ error: 'ERR c failed' }],
        [{ result: 'get:d' }],
      ]);
      // The read-your-writes token: the merged request took the reply's, and the next one sends it.
      await transport.request(pipeline(['get', 'e']));
      assert.deepEqual(
        seen.map((s) => s.syncToken),
        ['', 's1'],
      );
    });

    it('commands issued by separate tasks of one turn, through the client, share a request', async () => {
      const { url, seen } = await echoServer();
      const redis = new Redis(createUpstashTransport({ url, token: 't', timeoutMs: 2_000 }));
      // Timers due together run as separate tasks of one turn (as the I/O callbacks of several sockets do).
      const inTask = <T>(call: () => Promise<T>) =>
        new Promise<T>((resolve, reject) => setTimeout(() => call().then(resolve, reject), 0));
      const [a, b, c] = await Promise.allSettled([
        inTask(() => redis.get('a')),
        inTask(() => redis.get('fail')),
        inTask(() => redis.get('c')),
      ]);
      assert.equal(seen.length, 1);
      assert.deepEqual(a, { status: 'fulfilled', value: 'get:a' });
      assert.deepEqual(c, { status: 'fulfilled', value: 'get:c' });
      assert.equal(b.status, 'rejected', 'its command failed, and only its caller');
      assert.match(String((b as PromiseRejectedResult).reason), /ERR fail failed/);
    });

    it('a batch holds at most 100 commands', async () => {
      const { url, seen } = await echoServer();
      const transport = createUpstashTransport({ url, token: 't', timeoutMs: 2_000 });
      const answers = await Promise.all(
        Array.from({ length: 150 }, (_, i) => transport.request(pipeline(['get', `k${i}`]))),
      );
      assert.deepEqual(
        seen.map((s) => s.body.length),
        [100, 50],
      );
      assert.deepEqual(answers[149], [{ result: 'get:k149' }]);
    });

    it('/multi-exec is never merged; single commands join the batch and get their own entry', async () => {
      const { url, seen } = await echoServer();
      const transport = createUpstashTransport({ url, token: 't', timeoutMs: 2_000 });
      const answers = await Promise.allSettled([
        transport.request({ path: ['multi-exec'], body: [['get', 'a']] }),
        transport.request({ path: ['multi-exec'], body: [['get', 'b']] }),
        transport.request(pipeline(['get', 'c'])),
        transport.request({ body: ['get', 'd'] }),
        transport.request({ body: ['get', 'fail'] }),
      ]);
      assert.deepEqual(seen.map((s) => s.path).sort(), ['/multi-exec', '/multi-exec', '/pipeline']);
      assert.deepEqual(seen.find((s) => s.path === '/pipeline')?.body, [
        ['get', 'c'],
        ['get', 'd'],
        ['get', 'fail'],
      ]);
      assert.deepEqual(answers.slice(2, 4), [
        { status: 'fulfilled', value: [{ result: 'get:c' }] },
        { status: 'fulfilled', value: { result: 'get:d' } },
      ]);
      assert.equal(answers[4]?.status, 'rejected', 'its command failed, and only its caller');
      assert.match(
        String((answers[4] as PromiseRejectedResult).reason),
        /ERR fail failed, command was: \["get","fail"\]/,
      );
    });

    it('a refused request (non-2xx) fails every caller, each error naming its own commands', async () => {
      let requests = 0;
      const url = await serve((_req, _body, res) => {
        requests += 1;
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: 'Unauthorized' }));
      });
      const transport = createUpstashTransport({ url, token: 't', timeoutMs: 2_000 });
      const outcomes = await Promise.allSettled([
        transport.request(pipeline(['get', 'a'])),
        transport.request(pipeline(['get', 'b'])),
      ]);
      assert.equal(requests, 1);
      assert.deepEqual(
        outcomes.map((o) => (o.status === 'rejected' ? (o.reason as Error).message : 'fulfilled')),
        ['Unauthorized, command was: [["get","a"]]', 'Unauthorized, command was: [["get","b"]]'],
      );
    });

    it('a dropped connection is retried once, for the whole batch', async () => {
      const server = await droppingFirst((body) =>
        (JSON.parse(body) as unknown[]).map((_, i) => ({ result: i })),
      );
      const transport = createUpstashTransport({ url: server.url, token: 't', timeoutMs: 2_000 });
      const answers = await Promise.all([
        transport.request(pipeline(['get', 'a'])),
        transport.request(pipeline(['get', 'b'])),
      ]);
      assert.deepEqual(answers, [[{ result: 0 }], [{ result: 1 }]]);
      assert.equal(server.requests(), 2);
    });

    it('a server that never answers: a caller that gives up early is not held, the others get their deadline', async () => {
      let requests = 0;
      const early = new AbortController();
      const url = await serve(() => {
        requests += 1; // and never answer; the first caller gives up once the shared request is in
        early.abort();
      });
      const transport = createUpstashTransport({ url, token: 't', timeoutMs: 300 });
      const order: string[] = [];
      const started = performance.now();
      const settled = (name: string, call: Promise<unknown>) =>
        assert.rejects(call, /no answer within 300 ms/).then(() => order.push(name));
      await Promise.all([
        settled('early', transport.request({ ...pipeline(['get', 'a']), signal: early.signal })),
        settled('second', transport.request(pipeline(['get', 'b']))),
        settled('third', transport.request(pipeline(['get', 'c']))),
      ]);
      assert.ok(performance.now() - started < 5_000, 'no hang');
      assert.equal(requests, 1, 'one shared request, no retry');
      assert.equal(order[0], 'early', 'the aborted caller did not wait for the batch');
      assert.deepEqual(order.slice(1).sort(), ['second', 'third']);
    });
  });
});
