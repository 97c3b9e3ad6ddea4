/**
 * POST /v1/auth/refresh (API.md §4 and §5 "Refreshing"): one refresh lineage per login under any
 * concurrency, the two-tab grace for the most recently spent credential only, nothing spent while the
 * tenant is suspended, and the access token of the e-invoicing docs exchanged once.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { decodeJwt } from 'jose';
import { sha256Hex } from '../../lib/auth/secrets.js';
import { asAdmin, type CallResult, call } from '../support/client.js';
import { testClock } from '../support/clock.js';
import { addMember, logIn, ownerSession, type Session, STRONG_PASSWORD } from '../support/fixtures.js';
import { forEachBackend } from '../support/harness.js';
import { requestResetToken } from '../support/mail.js';
import { freshIp } from '../support/windows.js';

const clock = testClock();
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const sidOf = (accessToken: string) => decodeJwt(accessToken).sid as string;

forEachBackend(
  'refresh: one lineage, reuse, and the current access token',
  (ctx) => {
    /** The docs' curl line: no body, the credential as a Bearer token. */
    const refreshWith = (token: string, ip?: string) =>
      call(ctx.app, 'POST', '/v1/auth/refresh', { headers: bearer(token), ...(ip ? { ip } : {}) });
    const me = (accessToken: string) => call(ctx.app, 'GET', '/v1/auth/me', { headers: bearer(accessToken) });

    /** Refresh tokens of the login that could still be spent. */
    async function liveRefreshTokens(sessionId: string): Promise<string[]> {
      const rows = await ctx.app.db
        .selectFrom('refresh_tokens')
        .select('token_hash')
        .where('session_id', '=', sessionId)
        .where('spent_at', 'is', null)
        .where('expires_at', '>', clock.now())
        .execute();
      return rows.map((row) => row.token_hash);
    }

    async function sessionState(sessionId: string) {
      return ctx.app.db
        .selectFrom('sessions')
        .select(['revoked_at', 'revoked_reason'])
        .where('id', '=', sessionId)
        .executeTakeFirstOrThrow();
    }

    async function revokedEvents(userId: string): Promise<number> {
      const rows = await ctx.app.db
        .selectFrom('audit_events')
        .select('id')
        .where('target_id', '=', userId)
        .where('action', '=', 'session.revoked')
        .execute();
      return rows.length;
    }

    /** Every success carries the same new pair, its only live refresh token; the login lives on. */
    async function assertOneLineage(results: CallResult[], session: Session): Promise<void> {
      const sessionId = sidOf(session.accessToken);
      for (const res of results) assert.equal(res.status, 200, res.text);
      const refreshTokens = new Set(results.map((res) => res.body.refresh_token));
      assert.equal(refreshTokens.size, 1, 'every racer got the same refresh token');
      const accessTokens = new Set(results.map((res) => res.body.access_token));
      assert.equal(accessTokens.size, 1, 'and the same access token (Ed25519 signatures are deterministic)');
      const [refreshToken] = refreshTokens;
      for (const res of results) assert.equal(sidOf(res.body.access_token), sessionId, 'of the same login');
      assert.deepEqual(
        await liveRefreshTokens(sessionId),
        [sha256Hex(refreshToken)],
        'one live refresh token',
      );
      assert.equal((await sessionState(sessionId)).revoked_at, null, 'the login is not revoked');
      assert.equal(await revokedEvents(session.userId), 0);
      // The lineage goes on from the one token handed out.
      const next = await refreshWith(refreshToken);
      assert.equal(next.status, 200, next.text);
      assert.equal((await me(next.body.access_token)).status, 200);
    }

    it("the docs' sequence: log in, /me, refresh with the current JWT, /me with the new one", async () => {
      const { owner } = await ownerSession(ctx.app);
      const login = await call(ctx.app, 'POST', '/v1/auth/', {
        json: { email: owner.email, password: STRONG_PASSWORD },
      });
      assert.equal(login.status, 200, login.text);
      const token = login.body.access_token;
      assert.equal((await me(token)).status, 200);

      const refreshed = await refreshWith(token);
      assert.equal(refreshed.status, 200, refreshed.text);
      assert.deepEqual(Object.keys(refreshed.body).sort(), [
        'access_token',
        'expires_in',
        'refresh_token',
        'token_type',
        'user',
      ]);
      assert.equal(refreshed.body.token_type, 'Bearer');
      assert.equal(refreshed.body.expires_in, 900);
      assert.match(refreshed.body.refresh_token, /^rt_[\w-]{43}$/);
      assert.notEqual(refreshed.body.access_token, token);
      assert.equal(sidOf(refreshed.body.access_token), sidOf(token), 'the same login');
      assert.equal(refreshed.body.user.id, owner.id);
      const after = await me(refreshed.body.access_token);
      assert.equal(after.status, 200, after.text);
      assert.equal(after.body.user.email, owner.email);
      // The exchanged token still authenticates until it expires; it only cannot be exchanged again.
      assert.equal((await me(token)).status, 200);
      // And the client may go on the same way, fifteen minutes at a time.
      clock.advance(14 * 60_000);
      const again = await refreshWith(refreshed.body.access_token);
      assert.equal(again.status, 200, again.text);
      assert.equal((await me(again.body.access_token)).status, 200);
    });

    it('an access token is exchanged once: a second exchange is reuse and revokes the login', async () => {
      const { session } = await ownerSession(ctx.app);
      const first = await refreshWith(session.accessToken);
      assert.equal(first.status, 200, first.text);
      clock.advance(11_000);
      const second = await refreshWith(session.accessToken);
      assert.equal(second.status, 401, second.text);
      assert.equal(second.body.code, 'refresh_token_reused');
      assert.match(second.headers.get('www-authenticate') ?? '', /Bearer/);
      const sessionId = sidOf(session.accessToken);
      assert.equal((await sessionState(sessionId)).revoked_reason, 'refresh_token_reused');
      assert.equal((await me(first.body.access_token)).status, 401, 'the new pair dies with the login');
      assert.equal((await refreshWith(first.body.refresh_token)).status, 401);
      const [event] = await ctx.app.db
        .selectFrom('audit_events')
        .select('metadata')
        .where('target_id', '=', session.userId)
        .where('action', '=', 'session.revoked')
        .execute();
      assert.deepEqual(event?.metadata, {
        session_id: sessionId,
        reason: 'refresh_token_reused',
        credential: 'access_token',
      });
    });

    it('within 10 seconds, a second exchange of the same access token gets the same pair', async () => {
      const { session } = await ownerSession(ctx.app);
      const first = await refreshWith(session.accessToken);
      clock.advance(9_000);
      const second = await refreshWith(session.accessToken);
      assert.equal(second.status, 200, second.text);
      assert.equal(second.body.refresh_token, first.body.refresh_token);
      assert.equal(second.body.access_token, first.body.access_token);
      // 9 s older; the test clock runs on real time, so a second boundary may pass between the calls.
      assert.ok([890, 891].includes(second.body.expires_in), `expires_in ${second.body.expires_in}`);
      assert.equal((await liveRefreshTokens(sidOf(session.accessToken))).length, 1);
    });

    it('20 parallel exchanges of one access token: one lineage', async () => {
      const { session } = await ownerSession(ctx.app);
      const ip = freshIp();
      const results = await Promise.all(
        Array.from({ length: 20 }, () => refreshWith(session.accessToken, ip)),
      );
      await assertOneLineage(results, session);
    });

    it('50 parallel refreshes of one refresh token: one lineage', async () => {
      const { session } = await ownerSession(ctx.app);
      const ip = freshIp();
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          i % 2
            ? refreshWith(session.refreshToken, ip)
            : call(ctx.app, 'POST', '/v1/auth/refresh', {
                json: { refresh_token: session.refreshToken },
                ip,
              }),
        ),
      );
      await assertOneLineage(results, session);
    });

    it('only the most recently spent token gets the grace: an older one is reuse at once', async () => {
      const { session } = await ownerSession(ctx.app);
      const one = await refreshWith(session.refreshToken);
      const two = await refreshWith(one.body.refresh_token);
      const three = await refreshWith(two.body.refresh_token);
      for (const res of [one, two, three]) assert.equal(res.status, 200, res.text);
      clock.advance(1_000);
      const stale = await refreshWith(session.refreshToken);
      assert.equal(stale.status, 401, 'spent three rotations ago, one second ago');
      assert.equal(stale.body.code, 'refresh_token_reused');
      assert.equal((await refreshWith(three.body.refresh_token)).status, 401, 'the login is revoked');
      assert.equal((await me(three.body.access_token)).status, 401);
      assert.equal(await revokedEvents(session.userId), 1);
    });

    it('a rotation by either credential spends the other: one live refresh token, one exchangeable access token', async () => {
      // Exchanging the access token spends the refresh token handed out with it …
      const a = await ownerSession(ctx.app);
      const exchanged = await refreshWith(a.session.accessToken);
      assert.equal(exchanged.status, 200, exchanged.text);
      assert.equal((await liveRefreshTokens(sidOf(a.session.accessToken))).length, 1);
      const old = await refreshWith(a.session.refreshToken);
      assert.equal(old.status, 401);
      assert.equal(old.body.code, 'refresh_token_reused');

      // … and refreshing with the refresh token makes the access token of before unexchangeable.
      const b = await ownerSession(ctx.app);
      const rotated = await refreshWith(b.session.refreshToken);
      assert.equal(rotated.status, 200, rotated.text);
      assert.equal((await me(b.session.accessToken)).status, 200, 'it still authenticates');
      const superseded = await refreshWith(b.session.accessToken);
      assert.equal(superseded.status, 401);
      assert.equal(superseded.body.code, 'refresh_token_reused');
    });

    it('refreshing while the tenant is suspended spends nothing, and no false revocation follows', async () => {
      const { tenantId, session } = await ownerSession(ctx.app);
      const setStatus = async (status: 'active' | 'suspended') => {
        const res = await call(ctx.app, 'PATCH', `/v1/tenants/${tenantId}`, {
          headers: asAdmin,
          json: { status },
        });
        assert.equal(res.status, 200, res.text);
      };
      await setStatus('suspended');
      for (const token of [session.refreshToken, session.accessToken]) {
        const refused = await refreshWith(token);
        assert.equal(refused.status, 403, refused.text);
        assert.equal(refused.body.code, 'tenant_suspended');
      }
      const viaBody = await call(ctx.app, 'POST', '/v1/auth/refresh', {
        json: { refresh_token: session.refreshToken },
      });
      assert.equal(viaBody.status, 403);
      assert.deepEqual(await liveRefreshTokens(sidOf(session.accessToken)), [
        sha256Hex(session.refreshToken),
      ]);
      clock.advance(60_000);
      await setStatus('active');
      const res = await refreshWith(session.refreshToken);
      assert.equal(res.status, 200, `the token was not spent: ${res.text}`);
      assert.equal(await revokedEvents(session.userId), 0, 'no session.revoked was written');
      assert.equal((await sessionState(sidOf(session.accessToken))).revoked_at, null);
    });

    it('an access token of a logged-out login, after a password reset, or expired, is refused', async () => {
      const { owner, session } = await ownerSession(ctx.app);
      const out = await call(ctx.app, 'POST', '/v1/auth/logout', { headers: session.auth });
      assert.equal(out.status, 204);
      const afterLogout = await refreshWith(session.accessToken);
      assert.equal(afterLogout.status, 401);
      assert.equal(afterLogout.body.code, 'invalid_token');

      const before = await logIn(ctx.app, owner.email);
      const token = await requestResetToken(ctx.app, owner.email);
      const reset = await call(ctx.app, 'POST', '/v1/auth/reset-password', {
        json: { token, password: 'after the reset passphrase 4' },
      });
      assert.equal(reset.status, 200, reset.text);
      const afterReset = await refreshWith(before.accessToken);
      assert.equal(afterReset.status, 401);
      assert.equal(afterReset.body.code, 'invalid_token');

      const fresh = await logIn(ctx.app, owner.email, 'after the reset passphrase 4');
      clock.advance(15 * 60_000 + 1_000);
      const expired = await refreshWith(fresh.accessToken);
      assert.equal(expired.status, 401);
      assert.equal(expired.body.code, 'token_expired');
      assert.equal((await refreshWith(fresh.refreshToken)).status, 200, 'the refresh token still works');
    });

    it("a disabled person's access token is refused as elsewhere", async () => {
      const owner = await ownerSession(ctx.app);
      const member = await addMember(ctx.app, owner.tenantId, owner.session.auth, 'member');
      const disabled = await call(
        ctx.app,
        'PATCH',
        `/v1/tenants/${owner.tenantId}/team-members/${member.id}`,
        {
          headers: owner.session.auth,
          json: { status: 'disabled' },
        },
      );
      assert.equal(disabled.status, 200, disabled.text);
      const res = await refreshWith(member.session.accessToken);
      assert.equal(res.status, 401);
      assert.equal(res.body.code, 'invalid_token');
    });

    it("the login's 30 days still end it, however it is refreshed", async () => {
      const { session } = await ownerSession(ctx.app);
      clock.advance(30 * 24 * 3600_000 - 5 * 60_000);
      const late = await refreshWith(session.refreshToken);
      assert.equal(late.status, 200, late.text);
      clock.advance(6 * 60_000);
      const ended = await refreshWith(late.body.access_token);
      assert.equal(ended.status, 401, 'the access token has not expired, but its login has');
      assert.equal(ended.body.code, 'invalid_token');
      assert.equal((await refreshWith(late.body.refresh_token)).status, 401);
    });

    it('the body takes refresh tokens only; one credential per request', async () => {
      const { session } = await ownerSession(ctx.app);
      const inBody = await call(ctx.app, 'POST', '/v1/auth/refresh', {
        json: { refresh_token: session.accessToken },
      });
      assert.equal(inBody.status, 422, 'an access token is longer than any refresh token');
      const both = await call(ctx.app, 'POST', '/v1/auth/refresh', {
        headers: bearer(session.accessToken),
        json: { refresh_token: session.refreshToken },
      });
      assert.equal(both.status, 400);
      assert.equal(both.body.code, 'ambiguous_credentials');
      const garbage = await refreshWith('not-a-token-of-any-kind');
      assert.equal(garbage.status, 401);
      assert.equal(garbage.body.code, 'invalid_token');
      assert.equal(
        (await refreshWith(session.refreshToken)).status,
        200,
        'nothing was spent by the refusals',
      );
    });
  },
  { options: { now: clock.now } },
);
