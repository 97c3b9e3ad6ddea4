/**
 * The local server (`npm run dev`) as a client meets it over a socket: methods no fetch client can
 * send, unknown API paths, and the security headers of static pages.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type DevServer, type RawResponse, rawRequest, startDevServer } from '../support/dev-server.js';

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
    server = await startDevServer();
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
});
