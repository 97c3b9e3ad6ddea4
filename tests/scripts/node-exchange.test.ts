/**
 * The local server's node:http adapter (scripts/node-exchange.ts) on a real node:http server: the
 * answer's own headers win over vercel.json's, and a request's body reads through the pipeline's one
 * body reader (lib/http/body.ts) with its limit.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { readJsonBody } from '../../lib/http/body.js';
import { NodeIncoming, writeAnswer } from '../../scripts/node-exchange.js';

describe('the node:http adapter', () => {
  let server: Server;
  let base = '';
  before(async () => {
    server = createServer((req, res) => {
      const incoming = new NodeIncoming(req, new URL(req.url ?? '/', 'http://local'));
      const route = { 'x-frame-options': 'DENY', 'content-security-policy': "default-src 'self'" };
      readJsonBody(incoming).then(
        (body) => {
          const answer = {
            status: 200,
            headers: { 'x-frame-options': 'SAMEORIGIN', 'content-type': 'application/json' },
            body: JSON.stringify({ body, ip: incoming.headers.get('x-forwarded-for') }),
          };
          writeAnswer(req, res, answer, route, incoming);
        },
        (error: { code?: string }) =>
          writeAnswer(req, res, { status: 400, headers: {}, body: String(error.code) }, route, incoming),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    assert.ok(address && typeof address === 'object');
    base = `http://127.0.0.1:${address.port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("writes the answer's own header where vercel.json sets the same one, and vercel.json's others", async () => {
    const res = await fetch(`${base}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"a":1}',
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-frame-options'), 'SAMEORIGIN');
    assert.equal(res.headers.get('content-security-policy'), "default-src 'self'");
    const answer = await res.json();
    assert.deepEqual(answer.body, { a: 1 });
    // The client address comes from the socket, never from the client's headers.
    assert.equal(answer.ip, '127.0.0.1');
  });

  it('ignores a client-sent X-Forwarded-For and reads a GET as having no body', async () => {
    const res = await fetch(`${base}/`, { headers: { 'x-forwarded-for': '203.0.113.9' } });
    const answer = await res.json();
    assert.equal(answer.ip, '127.0.0.1');
    assert.deepEqual(answer.body, {});
  });

  it('stops at 64 KiB of a streamed body that never ends, and still answers', async () => {
    const big = new Uint8Array(80 * 1024).fill(0x20);
    const stream = new ReadableStream({
      start(controller) {
        for (let at = 0; at < big.length; at += 8 * 1024) controller.enqueue(big.subarray(at, at + 8 * 1024));
        // Never closed: the answer cannot wait for the end of the body.
      },
    });
    const res = await fetch(`${base}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    assert.equal(res.status, 400);
    assert.equal(await res.text(), 'payload_too_large');
    assert.equal(res.headers.get('connection'), 'close');
  });
});
