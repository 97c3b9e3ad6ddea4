/**
 * The local server (`npm run dev`) as a client meets it over a socket: methods no fetch client can
 * send, unknown API paths, and the security headers of static pages.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TEST_ADMIN_KEY } from '../support/backends.js';
import {
  type DevServer,
  embeddedEnv,
  type RawResponse,
  rawRequest,
  startDevServer,
} from '../support/dev-server.js';

export const STATIC_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; " +
  "base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

function assertProblem(res: RawResponse, status: number, code: string, what: string): void {
  assert.equal(res.status, status, `${what}: ${res.body}`);
  assert.equal(res.headers.get('content-type'), 'application/problem+json', what);
  const body = JSON.parse(res.body);
  assert.equal(body.code, code, what);
  assert.match(res.headers.get('x-request-id') ?? '', /^req_/, what);
  assert.equal(body.request_id, res.headers.get('x-request-id'), what);
  assert.equal(res.headers.get('cache-control'), 'no-store', what);
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff', what);
}

describe('the local server', () => {
  let server: DevServer;
  before(async () => {
    server = await startDevServer(embeddedEnv({ ADMIN_KEY: TEST_ADMIN_KEY }));
  });
  after(async () => {
    await server?.stop();
  });

  it('answers TRACE, CONNECT and other methods no route serves with 405 and Allow, never 500', async () => {
    for (const method of ['TRACE', 'CONNECT', 'PROPFIND', 'PURGE', 'QUERY']) {
      const res = await rawRequest(server.port, `${method} /v1/tenants HTTP/1.1`);
      assertProblem(res, 405, 'method_not_allowed', method);
      assert.equal(res.headers.get('allow'), 'GET, POST, HEAD, OPTIONS', method);
    }
    const health = await rawRequest(server.port, 'TRACE /api/health HTTP/1.1');
    assertProblem(health, 405, 'method_not_allowed', 'TRACE /api/health');
    assert.equal(health.headers.get('allow'), 'GET, HEAD, OPTIONS');
  });

  it('answers those methods on an unknown API path with the 404 problem', async () => {
    for (const method of ['TRACE', 'CONNECT', 'PROPFIND']) {
      for (const path of ['/v1/nope', '/api/nope']) {
        assertProblem(
          await rawRequest(server.port, `${method} ${path} HTTP/1.1`),
          404,
          'not_found',
          `${method} ${path}`,
        );
      }
    }
  });

  it('answers what Node cannot parse (lowercase or unknown methods) and CONNECT to host:port with a 400 problem', async () => {
    for (const line of [
      'get /v1/tenants HTTP/1.1',
      'Trace /v1/tenants HTTP/1.1',
      'FOO /v1/tenants HTTP/1.1',
    ]) {
      assertProblem(await rawRequest(server.port, line), 400, 'invalid_request', line);
    }
    const tunnel = await rawRequest(server.port, 'CONNECT example.com:443 HTTP/1.1');
    assertProblem(tunnel, 400, 'invalid_request', 'CONNECT example.com:443');
  });

  it('answers unknown paths under /v1 and /api with the 404 problem and the usual headers', async () => {
    for (const path of ['/v1/nope', '/api/nope', '/api/v1/nope/deeper', '/v1', '/api', '/api/meta']) {
      const res = await rawRequest(server.port, `GET ${path} HTTP/1.1`);
      assertProblem(res, 404, 'not_found', path);
      assert.equal(res.headers.get('referrer-policy'), 'no-referrer', path);
    }
  });

  it('serves static pages with a strict CSP, DENY framing, nosniff and no referrer', async () => {
    for (const path of ['/', '/docs/errors', '/docs/errors/', '/styles.css']) {
      const res = await rawRequest(server.port, `GET ${path} HTTP/1.1`);
      assert.equal(res.status, 200, `${path}: ${res.body.slice(0, 200)}`);
      assert.equal(res.headers.get('content-security-policy'), STATIC_CSP, path);
      assert.equal(res.headers.get('x-frame-options'), 'DENY', path);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff', path);
      assert.equal(res.headers.get('referrer-policy'), 'no-referrer', path);
    }
    const post = await rawRequest(server.port, 'POST / HTTP/1.1', ['Content-Length: 0']);
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
  });

  it('still serves the API itself', async () => {
    const res = await rawRequest(server.port, 'GET /api/health HTTP/1.1');
    assert.equal(res.status, 200, res.body);
    assert.equal(JSON.parse(res.body).status, 'ok');
    assert.equal(res.headers.get('x-frame-options'), 'DENY');
  });

  // The local server hands node:http's request to the pipeline itself (scripts/node-exchange.ts): its
  // body, headers and answer are read and written without a Web Request or Response in between.
  describe('request bodies and answers, straight from node:http', () => {
    const admin = `X-Admin-Key: ${TEST_ADMIN_KEY}`;
    const json = 'Content-Type: application/json';
    const verify = 'POST /v1/keys/verify HTTP/1.1';
    /** A body in chunked transfer encoding, in chunks of `size` bytes (no Content-Length). */
    const chunked = (body: Buffer, size: number): Buffer => {
      const parts: Buffer[] = [];
      for (let at = 0; at < body.length; at += size) {
        const piece = body.subarray(at, at + size);
        parts.push(Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n'));
      }
      parts.push(Buffer.from('0\r\n\r\n'));
      return Buffer.concat(parts);
    };

    it('reads a JSON body sent in chunks', async () => {
      const body = Buffer.from(JSON.stringify({ key: 'heir_live_nonsense' }));
      const res = await rawRequest(
        server.port,
        verify,
        [admin, json, 'Transfer-Encoding: chunked'],
        chunked(body, 7),
      );
      assert.equal(res.status, 200, res.body);
      assert.equal(JSON.parse(res.body).valid, false);
      assert.equal(res.headers.get('content-length'), String(Buffer.byteLength(res.body)));
    });

    it('refuses a body over 64 KiB with 413, declared or not, and closes a connection it stopped reading', async () => {
      const big = Buffer.from(JSON.stringify({ key: 'x'.repeat(70 * 1024) }));
      const streamed = await rawRequest(
        server.port,
        verify,
        [admin, json, 'Transfer-Encoding: chunked'],
        // Never finished (no last chunk): the answer cannot wait for the end of the body.
        chunked(big, 16 * 1024).subarray(0, -5),
      );
      assertProblem(streamed, 413, 'payload_too_large', 'chunked, no Content-Length, unfinished');
      assert.equal(streamed.headers.get('connection'), 'close');
      const declared = await rawRequest(
        server.port,
        verify,
        [admin, json, `Content-Length: ${big.length}`],
        big,
      );
      assertProblem(declared, 413, 'payload_too_large', 'declared');
      // Just under the limit is read (and validated: here, the key is no key).
      const under = Buffer.from(JSON.stringify({ key: 'x'.repeat(60 * 1024) }));
      const read = await rawRequest(
        server.port,
        verify,
        [admin, json, 'Transfer-Encoding: chunked'],
        chunked(under, 16 * 1024),
      );
      assert.notEqual(read.status, 413, read.body);
    });

    it('refuses a body that is not UTF-8, and reads an empty one as {}', async () => {
      const bad = Buffer.from([0x7b, 0x22, 0x6b, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]); // {"k":"\xff\xfe"}
      const res = await rawRequest(server.port, verify, [admin, json, `Content-Length: ${bad.length}`], bad);
      assertProblem(res, 400, 'invalid_json', 'invalid UTF-8');
      assert.match(JSON.parse(res.body).detail, /UTF-8/);
      const empty = await rawRequest(server.port, verify, [admin, 'Content-Length: 0']);
      assertProblem(empty, 422, 'validation_failed', 'empty body');
      assert.ok(
        JSON.parse(empty.body).errors.some((e: { path: string }) => e.path === 'key'),
        empty.body,
      );
    });

    it("answers HEAD with the GET answer's status and headers and no body", async () => {
      const get = await rawRequest(server.port, 'GET /v1/tenants HTTP/1.1', [admin]);
      const head = await rawRequest(server.port, 'HEAD /v1/tenants HTTP/1.1', [admin]);
      assert.equal(get.status, 200, get.body);
      assert.equal(head.status, 200);
      assert.equal(head.body, '');
      assert.equal(head.headers.get('content-type'), 'application/json; charset=utf-8');
      assert.match(head.headers.get('x-request-id') ?? '', /^req_/);
      assert.equal(head.headers.get('x-ratelimit-limit'), get.headers.get('x-ratelimit-limit'));
    });

    it("sends each header once: the answer's own, then vercel.json's where the answer has none", async () => {
      const res = await rawRequest(server.port, 'GET /v1/tenants HTTP/1.1', [admin]);
      assert.equal(res.status, 200, res.body);
      const names = res.head
        .split('\r\n')
        .slice(1)
        .map((line) => line.slice(0, line.indexOf(':')).toLowerCase());
      assert.deepEqual(
        names.filter((name, i) => names.indexOf(name) !== i),
        [],
        res.head,
      );
      // vercel.json's, on an API answer too.
      assert.equal(res.headers.get('content-security-policy'), STATIC_CSP);
      assert.equal(res.headers.get('x-frame-options'), 'DENY');
      // The pipeline's own.
      assert.equal(res.headers.get('cache-control'), 'no-store');
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    });
  });
});
