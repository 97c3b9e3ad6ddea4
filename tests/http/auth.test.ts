import assert from 'node:assert/strict';
import { it } from 'node:test';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { asAdmin, call } from '../support/client.js';
import { testClock } from '../support/clock.js';
import {
  activate,
  createTenant,
  logIn,
  ownerSession,
  STRONG_PASSWORD,
  uniqueEmail,
} from '../support/fixtures.js';
import { forEachBackend } from '../support/harness.js';

const clock = testClock();

forEachBackend(
  'login, me, refresh, logout',
  (ctx) => {
    it('refuses a temporary password at login until it is replaced, then logs in', async () => {
      const tenant = await createTenant(ctx.app);
      const early = await call(ctx.app, 'POST', '/v1/auth', {
        json: { email: tenant.owner.email, password: tenant.owner.temporaryPassword },
      });
      assert.equal(early.status, 403);
      assert.equal(early.body.code, 'password_change_required');
      await activate(ctx.app, tenant.owner.email, tenant.owner.temporaryPassword);
      const res = await call(ctx.app, 'POST', '/v1/auth/', {
        json: { email: tenant.owner.email, password: STRONG_PASSWORD },
      });
      assert.equal(res.status, 200);
      assert.equal(res.body.token_type, 'Bearer');
      assert.equal(res.body.expires_in, 900);
      assert.equal(res.body.user.role, 'owner');
      assert.equal(res.body.user.tenant_id, tenant.tenantId);
      assert.match(res.body.refresh_token, /^rt_[\w-]{43}$/);
      const header = decodeProtectedHeader(res.body.access_token);
      assert.equal(header.typ, 'at+jwt');
      assert.equal(header.alg, 'EdDSA');
      assert.ok(header.kid);
      const claims = decodeJwt(res.body.access_token);
      assert.equal(claims.sub, res.body.user.id);
      assert.equal(claims.tid, tenant.tenantId);
      assert.equal(claims.role, 'owner');
      assert.equal(claims.aud, 'heir-api');
      assert.equal(claims.iss, 'https://portal.heir.test');
      assert.equal((claims.exp ?? 0) - (claims.iat ?? 0), 900);
      const stored = await ctx.app.db.selectFrom('refresh_tokens').select('token_hash').execute();
      assert.ok(
        stored.every((row) => row.token_hash !== res.body.refresh_token),
        'refresh tokens are stored hashed',
      );
    });

    it('the alias /v1/auth/team-member logs in any role, and emails are matched case- and width-insensitively', async () => {
      const { owner } = await ownerSession(ctx.app);
      const shouted = owner.email.toUpperCase();
      const res = await call(ctx.app, 'POST', '/v1/auth/team-member', {
        json: { email: `  ${shouted} `, password: STRONG_PASSWORD },
      });
      assert.equal(res.status, 200, res.text);
      const fullWidth = owner.email.replace('o', '\uff4f'); // ｏ
      const wide = await call(ctx.app, 'POST', '/v1/auth', {
        json: { email: fullWidth, password: STRONG_PASSWORD },
      });
      assert.equal(wide.status, 200, wide.text);
    });

    it('answers a wrong email and a wrong password with the same 401 body', async () => {
      const { owner } = await ownerSession(ctx.app);
      const wrongPassword = await call(ctx.app, 'POST', '/v1/auth', {
        json: { email: owner.email, password: 'not-it-at-all' },
      });
      const wrongEmail = await call(ctx.app, 'POST', '/v1/auth', {
        json: { email: uniqueEmail(), password: 'not-it-at-all' },
      });
      assert.equal(wrongPassword.status, 401);
      assert.equal(wrongEmail.status, 401);
      const strip = (body: Record<string, unknown>) => ({ ...body, request_id: undefined });
      assert.deepEqual(strip(wrongPassword.body), strip(wrongEmail.body));
      assert.equal(wrongPassword.body.code, 'invalid_credentials');
      const short = await call(ctx.app, 'POST', '/v1/auth', {
        json: { email: owner.email, password: '12345' },
      });
      assert.equal(short.status, 422);
      assert.deepEqual(
        short.body.errors.map((error: { path: string }) => error.path),
        ['password'],
      );
    });

    it('GET /v1/auth/me answers from the login, and shows a change on the very next request', async () => {
      const { tenantId, session, owner } = await ownerSession(ctx.app);
      const res = await call(ctx.app, 'GET', '/v1/auth/me', { headers: session.auth });
      assert.equal(res.status, 200);
      assert.equal(res.body.user.email, owner.email);
      assert.ok(res.body.user.last_login_at);
      assert.deepEqual(Object.keys(res.body.tenant).sort(), ['id', 'max_tier', 'name', 'slug', 'status']);
      assert.equal(res.body.tenant.id, tenantId);
      const renamed = await call(ctx.app, 'PATCH', `/v1/tenants/${tenantId}`, {
        headers: asAdmin,
        json: { name: 'Renamed Tenant' },
      });
      assert.equal(renamed.status, 200, renamed.text);
      const again = await call(ctx.app, 'GET', '/v1/auth/me', { headers: session.auth });
      assert.equal(again.body.tenant.name, 'Renamed Tenant');
      // Another login shows on the first one's /me: its last-login time is the newest.
      clock.advance(60_000);
      const loggedInAfter = clock.now();
      await logIn(ctx.app, owner.email);
      const later = await call(ctx.app, 'GET', '/v1/auth/me', { headers: session.auth });
      assert.ok(new Date(later.body.user.last_login_at) >= loggedInAfter, later.body.user.last_login_at);
    });

    it('rotates refresh tokens (header or body) and spends the old one', async () => {
      const { session } = await ownerSession(ctx.app);
      const viaHeader = await call(ctx.app, 'POST', '/v1/auth/refresh', {
        headers: { authorization: `Bearer ${session.refreshToken}` },
      });
      assert.equal(viaHeader.status, 200, viaHeader.text);
      assert.notEqual(viaHeader.body.refresh_token, session.refreshToken);
      const viaBody = await call(ctx.app, 'POST', '/v1/auth/refresh', {
        json: { refresh_token: viaHeader.body.refresh_token },
      });
      assert.equal(viaBody.status, 200);
      const me = await call(ctx.app, 'GET', '/v1/auth/me', {
        headers: { authorization: `Bearer ${viaBody.body.access_token}` },
      });
      assert.equal(me.status, 200);
      const unknown = await call(ctx.app, 'POST', '/v1/auth/refresh', {
        json: { refresh_token: 'rt_unknown-token-unknown-token-unknown-token' },
      });
      assert.equal(unknown.status, 401);
      assert.equal(unknown.body.code, 'invalid_token');
      const none = await call(ctx.app, 'POST', '/v1/auth/refresh', {});
      assert.equal(none.status, 401);
      assert.equal(none.body.code, 'missing_credentials');
    });

    it('two tabs refreshing with the same token within the grace period both succeed', async () => {
      const { session } = await ownerSession(ctx.app);
      const [first, second] = await Promise.all([
        call(ctx.app, 'POST', '/v1/auth/refresh', { json: { refresh_token: session.refreshToken } }),
        call(ctx.app, 'POST', '/v1/auth/refresh', { json: { refresh_token: session.refreshToken } }),
      ]);
      assert.equal(first.status, 200, first.text);
      assert.equal(second.status, 200, second.text);
      const later = await call(ctx.app, 'POST', '/v1/auth/refresh', {
        json: { refresh_token: first.body.refresh_token },
      });
      assert.equal(later.status, 200, 'the family is still alive');
    });

    it('a refresh token replayed after the grace period revokes the whole login, newest token included', async () => {
      const { session } = await ownerSession(ctx.app);
      const rotated = await call(ctx.app, 'POST', '/v1/auth/refresh', {
        json: { refresh_token: session.refreshToken },
      });
      assert.equal(rotated.status, 200);
      clock.advance(11_000);
      const replay = await call(ctx.app, 'POST', '/v1/auth/refresh', {
        json: { refresh_token: session.refreshToken },
      });
      assert.equal(replay.status, 401);
      assert.equal(replay.body.code, 'refresh_token_reused');
      assert.match(replay.headers.get('www-authenticate') ?? '', /Bearer/);
      const newest = await call(ctx.app, 'POST', '/v1/auth/refresh', {
        json: { refresh_token: rotated.body.refresh_token },
      });
      assert.equal(newest.status, 401);
      const access = await call(ctx.app, 'GET', '/v1/auth/me', {
        headers: { authorization: `Bearer ${rotated.body.access_token}` },
      });
      assert.equal(access.status, 401, 'access tokens of the revoked login stop too');
      const events = await ctx.app.db
        .selectFrom('audit_events')
        .select('action')
        .where('target_id', '=', session.userId)
        .execute();
      assert.ok(events.some((event) => event.action === 'session.revoked'));
    });

    it('logout ends the login: its refresh token and access token stop working, others go on', async () => {
      const { owner, session } = await ownerSession(ctx.app);
      const other = await logIn(ctx.app, owner.email);
      const out = await call(ctx.app, 'POST', '/v1/auth/logout', { headers: session.auth });
      assert.equal(out.status, 204);
      assert.equal(out.text, '');
      assert.equal((await call(ctx.app, 'GET', '/v1/auth/me', { headers: session.auth })).status, 401);
      const refresh = await call(ctx.app, 'POST', '/v1/auth/refresh', {
        json: { refresh_token: session.refreshToken },
      });
      assert.equal(refresh.status, 401);
      assert.equal((await call(ctx.app, 'GET', '/v1/auth/me', { headers: other.auth })).status, 200);
    });

    it('access tokens expire after 15 minutes', async () => {
      const { session } = await ownerSession(ctx.app);
      clock.advance(15 * 60_000 + 1_000);
      const res = await call(ctx.app, 'GET', '/v1/auth/me', { headers: session.auth });
      assert.equal(res.status, 401);
      assert.equal(res.body.code, 'token_expired');
      const refreshed = await call(ctx.app, 'POST', '/v1/auth/refresh', {
        json: { refresh_token: session.refreshToken },
      });
      assert.equal(refreshed.status, 200);
    });

    it('publishes the verification keys without private parts', async () => {
      const res = await call(ctx.app, 'GET', '/.well-known/jwks.json');
      assert.equal(res.status, 200);
      assert.equal(res.body.keys.length, 1);
      const [key] = res.body.keys;
      assert.equal(key.d, undefined);
      assert.equal(key.kty, 'OKP');
      assert.equal(key.use, 'sig');
      const { session } = await ownerSession(ctx.app);
      assert.equal(decodeProtectedHeader(session.accessToken).kid, key.kid);
    });
  },
  { options: { now: clock.now } },
);
