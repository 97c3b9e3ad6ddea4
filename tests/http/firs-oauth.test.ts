/**
 * POST /v1/auth/oauth/firs against a local fake FIRS token endpoint (node:http on a free port) whose
 * answer the authorization code picks: success, 400 invalid_grant, 500, a non-JSON 200, or no answer.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, it } from 'node:test';
import { call } from '../support/client.js';
import { testClock } from '../support/clock.js';
import { addMember } from '../support/fixtures.js';
import { forEachBackend } from '../support/harness.js';
import { adminKey, keyTenant, withKey } from '../support/keys.js';

const clock = testClock();
const received: { form: URLSearchParams; authorization: string | undefined }[] = [];
const hanging = new Set<ServerResponse>();

function answer(req: IncomingMessage, res: ServerResponse, body: string): unknown {
  const form = new URLSearchParams(body);
  received.push({ form, authorization: req.headers.authorization });
  const json = (status: number, value: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(value));
  };
  switch (form.get('code')) {
    case 'good-code':
      return json(200, {
        access_token: 'firs-access-SECRET-1',
        token_type: 'Bearer',
        expires_in: 3600,
        refresh_token: 'firs-refresh-SECRET-2',
      });
    case 'bad-code':
      return json(400, { error: 'invalid_grant', error_description: 'code expired <script>' });
    case 'server-error':
      return json(500, { error: 'server_error' });
    case 'garbage':
      res.writeHead(200, { 'content-type': 'text/html' });
      return void res.end('<html>maintenance</html>');
    case 'no-token':
      return json(200, { token_type: 'Bearer' });
    default:
      hanging.add(res); // never answers
  }
}

const server = createServer((req, res) => {
  let body = '';
  req.on('data', (chunk) => {
    body += chunk;
  });
  req.on('end', () => answer(req, res, body));
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const port = (server.address() as AddressInfo).port;
after(() => {
  for (const res of hanging) res.destroy();
  server.close();
});

const exchange = { redirect_uri: 'https://portal.example/firs/callback' };

forEachBackend(
  'FIRS OAuth',
  (ctx) => {
    it('exchanges the code (HTTP Basic client auth, PKCE verifier), stores the tokens encrypted, answers the expiry', async () => {
      const t = await keyTenant(ctx.app);
      const verifier = 'v'.repeat(43);
      const before = received.length;
      const startedAt = clock.now().getTime();
      const res = await call(ctx.app, 'POST', '/v1/auth/oauth/firs', {
        headers: t.owner,
        json: { code: 'good-code', code_verifier: verifier, ...exchange },
      });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.connected, true);
      const expiresAt = Date.parse(res.body.expires_at);
      assert.ok(expiresAt >= startedAt + 3600_000 && expiresAt <= clock.now().getTime() + 3600_000, res.text);
      const sent = received[before];
      assert.ok(sent);
      assert.equal(sent.form.get('grant_type'), 'authorization_code');
      assert.equal(sent.form.get('redirect_uri'), exchange.redirect_uri);
      assert.equal(sent.form.get('code_verifier'), verifier);
      assert.equal(
        sent.authorization,
        `Basic ${Buffer.from('heir-client:client-secret-x').toString('base64')}`,
      );

      const row = await ctx.app.db
        .selectFrom('firs_connections')
        .selectAll()
        .where('tenant_id', '=', t.tenantId)
        .executeTakeFirstOrThrow();
      assert.ok(!JSON.stringify(row).includes('SECRET'));
      assert.equal(
        ctx.app.cipher.decrypt(row.access_token_enc, `firs.access_token:${t.tenantId}:${t.tenantId}`),
        'firs-access-SECRET-1',
      );
      const creds = await call(ctx.app, 'GET', `/v1/tenants/${t.tenantId}/settings/firs-credentials`, {
        headers: t.owner,
      });
      assert.deepEqual(creds.body.oauth, { connected: true, expires_at: res.body.expires_at });
      assert.ok(!creds.text.includes('SECRET'));
      const audit = await call(ctx.app, 'GET', `/v1/tenants/${t.tenantId}/audit-events`, {
        headers: t.owner,
      });
      assert.ok(audit.text.includes('firs.oauth_connected') && !audit.text.includes('SECRET'));

      // A key with `credentials` may connect its own tenant too.
      const key = await adminKey(ctx.app, t.tenantId, { scopes: ['credentials'] });
      const byKey = await call(ctx.app, 'POST', '/v1/auth/oauth/firs', {
        headers: withKey(key.key),
        json: { code: 'good-code', ...exchange },
      });
      assert.equal(byKey.status, 200, byKey.text);
    });

    it('upstream refusals and garbage → 502 upstream_error; no answer → 504 upstream_timeout; never a 500', async () => {
      const t = await keyTenant(ctx.app);
      for (const [code, status, problem] of [
        ['bad-code', 502, 'upstream_error'],
        ['server-error', 502, 'upstream_error'],
        ['garbage', 502, 'upstream_error'],
        ['no-token', 502, 'upstream_error'],
        ['hang', 504, 'upstream_timeout'],
      ] as const) {
        const res = await call(ctx.app, 'POST', '/v1/auth/oauth/firs', {
          headers: t.owner,
          json: { code, ...exchange },
        });
        assert.equal(res.status, status, `${code}: ${res.text}`);
        assert.equal(res.body.code, problem);
        assert.ok(!res.text.includes('<script>'), 'the upstream text is never echoed');
      }
      const bad = await call(ctx.app, 'POST', '/v1/auth/oauth/firs', {
        headers: t.owner,
        json: { code: 'bad-code', ...exchange },
      });
      assert.match(bad.body.detail, /HTTP 400, invalid_grant/);
      const none = await ctx.app.db
        .selectFrom('firs_connections')
        .select('tenant_id')
        .where('tenant_id', '=', t.tenantId)
        .execute();
      assert.equal(none.length, 0, 'nothing is stored after a failed exchange');
    });

    it('validates the body and admits only owners, admins and keys with credentials', async () => {
      const t = await keyTenant(ctx.app);
      for (const json of [
        { code: 'good-code', redirect_uri: 'javascript:alert(1)' },
        { code: 'good-code', ...exchange, code_verifier: 'short' },
        { code: '', ...exchange },
        { code: 'good-code', ...exchange, client_secret: 'x' },
      ]) {
        const res = await call(ctx.app, 'POST', '/v1/auth/oauth/firs', { headers: t.owner, json });
        assert.equal(res.status, 422, res.text);
      }
      const member = await addMember(ctx.app, t.tenantId, t.owner, 'member');
      const res = await call(ctx.app, 'POST', '/v1/auth/oauth/firs', {
        headers: member.session.auth,
        json: { code: 'good-code', ...exchange },
      });
      assert.equal(res.status, 403, res.text);
      const key = await adminKey(ctx.app, t.tenantId, { scopes: ['settings'] });
      const scoped = await call(ctx.app, 'POST', '/v1/auth/oauth/firs', {
        headers: withKey(key.key),
        json: { code: 'good-code', ...exchange },
      });
      assert.equal(scoped.body.code, 'insufficient_scope');
    });
  },
  {
    env: {
      FIRS_OAUTH_TOKEN_URL: `http://127.0.0.1:${port}/oauth2/token`,
      FIRS_OAUTH_CLIENT_ID: 'heir-client',
      FIRS_OAUTH_CLIENT_SECRET: 'client-secret-x',
      FIRS_OAUTH_TIMEOUT_MS: '300',
    },
    options: { now: clock.now },
  },
);
