/**
 * The hot path of a key-authenticated request (issue 8): warm, it makes no Postgres round trip and exactly
 * one Redis round trip (the tier limit, the key's usage and its revocation signal, auto-pipelined), and
 * every change a key's verification depends on still takes effect on the very next request, in this
 * instance and in another one sharing the same Postgres and Redis. The same for a JWT request and the
 * login it rests on (decision 0043). Counts, never durations.
 */
import assert from 'node:assert/strict';
import { after, it } from 'node:test';
import bcrypt from 'bcryptjs';
import { type App, createApp } from '../../lib/app.js';
import { answerRequest } from '../../lib/http/pipeline.js';
import { generateSigningJwk } from '../../lib/identity/signing-keys.js';
import { createVercelRouter, functionExports } from '../../scripts/vercel-local.js';
import { asAdmin, call } from '../support/client.js';
import { testClock } from '../support/clock.js';
import { addMember, logIn, ownerSession } from '../support/fixtures.js';
import { forEachBackend } from '../support/harness.js';
import { adminKey, counting, keyTenant, withKey } from '../support/keys.js';
import { bridgeRequests } from '../support/upstash-bridge.js';
import { awayFromWindowEnd } from '../support/windows.js';

/** Counts reads of the fetch globals (Request, Headers, Response …) from now until restore(). */
function countFetchGlobalReads(): { count(): Record<string, number>; restore(): void } {
  const names = ['Request', 'Response', 'Headers', 'AbortController', 'AbortSignal'] as const;
  const reads: Record<string, number> = {};
  const saved = names.map((name) => [name, Object.getOwnPropertyDescriptor(globalThis, name)] as const);
  for (const [name, descriptor] of saved) {
    const value = (globalThis as Record<string, unknown>)[name];
    Object.defineProperty(globalThis, name, {
      configurable: true,
      get() {
        reads[name] = (reads[name] ?? 0) + 1;
        return value;
      },
      set: descriptor?.set,
    });
  }
  return {
    count: () => reads,
    restore() {
      for (const [name, descriptor] of saved)
        if (descriptor) Object.defineProperty(globalThis, name, descriptor);
    },
  };
}

/** Counts the calls of JSON.parse that throw, from now until restore(). */
function countJsonParseFailures(): { count(): number; restore(): void } {
  const parse = JSON.parse;
  let failures = 0;
  JSON.parse = (...args: Parameters<typeof JSON.parse>) => {
    try {
      return parse(...args);
    } catch (error) {
      failures++;
      throw error;
    }
  };
  return { count: () => failures, restore: () => (JSON.parse = parse) };
}

const clock = testClock();
const HOUR = 3600_000;

/**
 * Counts the requests the Upstash bridge answers for this app (each is one Redis round trip); counted
 * where they arrive, whatever transport the client uses.
 */
function redisRoundTrips(app: App): { count(): number } {
  const limiter = app.config.rateLimit;
  const at = () => (limiter.kind === 'upstash' ? bridgeRequests(limiter.url) : 0);
  const start = at();
  return { count: () => at() - start };
}

forEachBackend(
  'the hot path',
  (ctx) => {
    const others: App[] = [];
    after(async () => {
      for (const other of others) await other.close();
    });

    /** A second instance on the same Postgres and Redis (services only: embedded has one process). */
    async function secondInstance(): Promise<App | null> {
      if (ctx.app.config.rateLimit.kind !== 'upstash') return null;
      const other = await createApp(ctx.app.config, { now: clock.now });
      others.push(other);
      return other;
    }

    it('a warm key-authenticated request: 0 Postgres queries, exactly 1 Redis round trip', async (test) => {
      const t = await keyTenant(ctx.app);
      const issued = await adminKey(ctx.app, t.tenantId);
      const counted = counting(ctx.app);
      const trips = redisRoundTrips(ctx.app);
      const cold = await call(counted.app, 'GET', '/v1/whoami', { headers: withKey(issued.key) });
      assert.equal(cold.status, 200, cold.text);
      assert.equal(cold.body.key_id, issued.id);
      await ctx.app.settle();
      // Cold: the lookup, and after the response the debounced last-use write (one UPDATE).
      assert.equal(counted.queries(), 2);
      const services = ctx.app.config.rateLimit.kind === 'upstash';
      // Cold: the signal read before the lookup, the limit with the signal, and (after the response)
      // the usage read of the anomaly check.
      assert.equal(trips.count(), services ? 3 : 0);
      const parseFailures = countJsonParseFailures();
      test.after(() => parseFailures.restore());
      for (let i = 1; i <= 5; i++) {
        const before = { queries: counted.queries(), trips: trips.count(), limits: counted.limiterCalls() };
        const warm = await call(counted.app, 'GET', '/v1/whoami', { headers: withKey(issued.key) });
        assert.equal(warm.status, 200, warm.text);
        await ctx.app.settle(); // nothing deferred either: last use is written at most once a minute
        assert.equal(warm.headers.get('ratelimit-policy'), '"public";q=100;w=900');
        assert.equal(counted.queries() - before.queries, 0, 'warm: no Postgres round trip');
        assert.equal(trips.count() - before.trips, services ? 1 : 0, 'warm: one Redis round trip');
        assert.equal(counted.limiterCalls() - before.limits, 1, 'one limiter call');
      }
      // @upstash/redis tries JSON.parse on every reply value: a reply that is not JSON costs a throw.
      assert.equal(parseFailures.count(), 0, 'no reply value that JSON.parse refuses');
    });

    it('a warm request builds no Web Request, Headers or Response: the answer is a plain object with a string body', async () => {
      const t = await keyTenant(ctx.app);
      const issued = await adminKey(ctx.app, t.tenantId);
      const resolution = createVercelRouter().resolve(new URL('https://heir.test/v1/whoami'));
      assert.equal(resolution.kind, 'function');
      const { router } = await functionExports(resolution.kind === 'function' ? resolution.file : '');
      // As the local server hands a request over (scripts/node-exchange.ts): a URL and a header getter.
      const incoming = (headers: Record<string, string>) => ({
        method: 'GET',
        url: new URL('https://heir.test/v1/whoami'),
        headers: { get: (name: string) => headers[name] ?? null },
        body: () => null,
      });
      const sent = { ...withKey(issued.key), 'x-forwarded-for': '203.0.113.10' } as Record<string, string>;
      await answerRequest(ctx.app, router, incoming(sent)); // cold
      const reads = countFetchGlobalReads();
      try {
        const warm = await answerRequest(ctx.app, router, incoming(sent));
        assert.equal(warm.status, 200);
        assert.equal(JSON.parse(warm.body ?? 'null').key_id, issued.id);
        assert.equal(warm.headers['content-type'], 'application/json; charset=utf-8');
        // A problem too (here: no credentials).
        const refused = await answerRequest(ctx.app, router, incoming({}));
        assert.equal(refused.status, 401);
        assert.equal(JSON.parse(refused.body ?? 'null').code, 'missing_credentials');
        assert.deepEqual(reads.count(), {});
      } finally {
        reads.restore();
      }
    });

    it('a JWT request: one Postgres read for its login when cold, none when warm, exactly 1 Redis round trip', async () => {
      const { session, tenantId, owner } = await ownerSession(ctx.app);
      const counted = counting(ctx.app);
      const trips = redisRoundTrips(ctx.app);
      const services = ctx.app.config.rateLimit.kind === 'upstash';
      const cold = await call(counted.app, 'GET', '/v1/auth/me', { headers: session.auth });
      assert.equal(cold.status, 200, cold.text);
      await ctx.app.settle();
      assert.equal(counted.queries(), 1, 'cold: the live-session check, nothing more');
      // Cold: the signal read before the check, the limit with the signal.
      assert.equal(trips.count(), services ? 2 : 0);
      for (let i = 0; i < 3; i++) {
        const before = { queries: counted.queries(), trips: trips.count(), limits: counted.limiterCalls() };
        const me = await call(counted.app, 'GET', '/v1/auth/me', { headers: session.auth });
        assert.equal(me.status, 200, me.text);
        assert.equal(me.body.user.email, owner.email);
        assert.equal(me.body.tenant.id, tenantId);
        assert.equal(me.body.tenant.status, 'active');
        await ctx.app.settle();
        assert.equal(counted.queries() - before.queries, 0, 'warm: no Postgres round trip');
        assert.equal(
          trips.count() - before.trips,
          services ? 1 : 0,
          'warm: the limit and the signal, one round trip',
        );
        assert.equal(counted.limiterCalls() - before.limits, 1, 'one limiter call');
      }
      // A resource read with a JWT: only the handler's own query.
      const before = counted.queries();
      const team = await call(counted.app, 'GET', `/v1/tenants/${tenantId}/team-members`, {
        headers: session.auth,
      });
      assert.equal(team.status, 200, team.text);
      await ctx.app.settle();
      assert.equal(counted.queries() - before, 1, 'the page of people');
      // And a logout still ends the login at once: the same token is refused on the very next request.
      const out = await call(counted.app, 'POST', '/v1/auth/logout', { headers: session.auth });
      assert.equal(out.status, 204, out.text);
      const after = await call(counted.app, 'GET', '/v1/auth/me', { headers: session.auth });
      assert.equal(after.status, 401);
    });

    it('a login: one bcrypt comparison and two queries (the account with its tenant; one statement writing the login)', async (t) => {
      const { owner } = await ownerSession(ctx.app);
      const counted = counting(ctx.app);
      await ctx.app.settle();
      const compare = t.mock.method(bcrypt, 'compare');
      const before = { queries: counted.queries(), limits: counted.limiterCalls() };
      const session = await logIn(counted.app, owner.email, undefined, '198.51.100.77');
      await ctx.app.settle();
      assert.equal(compare.mock.callCount(), 1);
      assert.equal(counted.queries() - before.queries, 2);
      assert.equal(counted.limiterCalls() - before.limits, 2, 'the address limit and the account throttle');
      // What the one statement wrote: a live session with its refresh token, the last login, the event.
      assert.equal((await call(ctx.app, 'GET', '/v1/auth/me', { headers: session.auth })).status, 200);
      const refreshed = await call(ctx.app, 'POST', '/v1/auth/refresh', {
        json: { refresh_token: session.refreshToken },
      });
      assert.equal(refreshed.status, 200, refreshed.text);
      const user = await ctx.app.db
        .selectFrom('users')
        .select(['last_login_at', 'failed_logins'])
        .where('id', '=', session.userId)
        .executeTakeFirstOrThrow();
      assert.ok(user.last_login_at);
      assert.equal(user.failed_logins, 0);
      const events = await ctx.app.db
        .selectFrom('audit_events')
        .select(['action', 'actor_id', 'ip'])
        .where('target_id', '=', session.userId)
        .where('action', '=', 'auth.login')
        .execute();
      assert.deepEqual(events, [{ action: 'auth.login', actor_id: session.userId, ip: '198.51.100.77' }]);
    });

    /** A key warm in this instance (and in the second one, when there is one). */
    async function warmKey(body: Record<string, unknown> = {}) {
      const t = await keyTenant(ctx.app);
      const issued = await adminKey(ctx.app, t.tenantId, { scopes: ['contracts', 'team'], ...body });
      const other = await secondInstance();
      const instances = other ? [ctx.app, other] : [ctx.app];
      const get = (app: App, path = `/v1/tenants/${t.tenantId}/team-members`, key = issued.key) =>
        call(app, 'GET', path, { headers: withKey(key) });
      for (const app of instances) {
        for (let i = 0; i < 2; i++) assert.equal((await get(app)).status, 200);
      }
      return { t, issued, instances, get };
    }

    it('revocation takes effect on the very next request, in every instance', async () => {
      const { issued, instances, get } = await warmKey();
      assert.equal(
        (await call(ctx.app, 'DELETE', `/v1/api-keys/${issued.id}`, { headers: asAdmin })).status,
        200,
      );
      for (const app of instances) {
        const res = await get(app);
        assert.equal(res.status, 401, res.text);
        assert.equal(res.body.code, 'key_revoked');
      }
    });

    it('a rotation without grace ends the old secret on the very next request, in every instance', async () => {
      const { issued, instances, get, t } = await warmKey();
      const rotated = await call(ctx.app, 'POST', `/v1/api-keys/${issued.id}/rotate`, {
        headers: asAdmin,
        json: { grace_period_hours: 0 },
      });
      assert.equal(rotated.status, 200, rotated.text);
      for (const app of instances) {
        assert.equal((await get(app)).body.code, 'invalid_api_key');
        const path = `/v1/tenants/${t.tenantId}/team-members`;
        assert.equal((await get(app, path, rotated.body.key)).status, 200);
      }
    });

    it('the end of a grace period is honoured by a cached record, with no change written', async () => {
      const { issued, instances, get } = await warmKey();
      const rotated = await call(ctx.app, 'POST', `/v1/api-keys/${issued.id}/rotate`, {
        headers: asAdmin,
        json: { grace_period_hours: 1 },
      });
      assert.equal(rotated.status, 200);
      for (const app of instances) for (let i = 0; i < 2; i++) assert.equal((await get(app)).status, 200);
      clock.advance(HOUR + 1000);
      for (const app of instances) assert.equal((await get(app)).body.code, 'invalid_api_key');
    });

    it('a narrowed scope list and a changed IP list apply on the very next request, in every instance', async () => {
      const { issued, instances, get } = await warmKey();
      const narrowed = await call(ctx.app, 'PATCH', `/v1/api-keys/${issued.id}`, {
        headers: asAdmin,
        json: { scopes: ['contracts'] },
      });
      assert.equal(narrowed.status, 200, narrowed.text);
      for (const app of instances) assert.equal((await get(app)).body.code, 'insufficient_scope');
      // Widened again: a refusal never rests on the cache either.
      await call(ctx.app, 'PATCH', `/v1/api-keys/${issued.id}`, {
        headers: asAdmin,
        json: { scopes: ['contracts', 'team'] },
      });
      for (const app of instances) assert.equal((await get(app)).status, 200);
      await call(ctx.app, 'PATCH', `/v1/api-keys/${issued.id}`, {
        headers: asAdmin,
        json: { ip_whitelist: ['198.51.100.0/24'] },
      });
      for (const app of instances) assert.equal((await get(app)).body.code, 'ip_not_allowed');
    });

    it("a tenant's suspension and reactivation apply on the very next request, in every instance", async () => {
      const { t, instances, get } = await warmKey();
      const own = `/v1/tenants/${t.tenantId}`;
      await call(ctx.app, 'PATCH', own, { headers: asAdmin, json: { status: 'suspended' } });
      for (const app of instances) assert.equal((await get(app)).body.code, 'tenant_suspended');
      await call(ctx.app, 'PATCH', own, { headers: asAdmin, json: { status: 'active' } });
      for (const app of instances) assert.equal((await get(app)).status, 200);
    });

    /**
     * The instances a login is warm in: this one embedded; in services mode two new ones on the same
     * Postgres and Redis with one signing key between them (this one's key is its own, made at start).
     */
    let loginInstances: App[] | undefined;
    async function sharingSigningKey(): Promise<App[]> {
      if (ctx.app.config.rateLimit.kind !== 'upstash') return [ctx.app];
      if (!loginInstances) {
        const privateKeys = JSON.stringify([await generateSigningJwk()]);
        const config = { ...ctx.app.config, jwt: { ...ctx.app.config.jwt, privateKeys } };
        loginInstances = [
          await createApp(config, { now: clock.now }),
          await createApp(config, { now: clock.now }),
        ];
        others.push(...loginInstances);
      }
      return loginInstances;
    }

    /** A member's login, warm in every instance; changes are made through the first. */
    async function warmLogin() {
      const instances = await sharingSigningKey();
      const first = instances[0] as App;
      const owner = await ownerSession(first);
      const member = await addMember(first, owner.tenantId, owner.session.auth, 'member');
      const me = (app: App) => call(app, 'GET', '/v1/auth/me', { headers: member.session.auth });
      for (const app of instances) {
        for (let i = 0; i < 2; i++) {
          const res = await me(app);
          assert.equal(res.status, 200, res.text);
        }
      }
      const team = `/v1/tenants/${owner.tenantId}/team-members`;
      return { first, owner, member, instances, me, team };
    }

    /** Each way a login ends, with nothing else moving the person's signal in between. */
    const endings: [string, (login: Awaited<ReturnType<typeof warmLogin>>) => Promise<unknown>][] = [
      [
        'a logout',
        ({ first, member }) => call(first, 'POST', '/v1/auth/logout', { headers: member.session.auth }),
      ],
      [
        'a role change',
        ({ first, owner, member, team }) =>
          call(first, 'PATCH', `${team}/${member.id}`, {
            headers: owner.session.auth,
            json: { role: 'admin' },
          }),
      ],
      [
        'a disabled account',
        ({ first, owner, member, team }) =>
          call(first, 'PATCH', `${team}/${member.id}`, {
            headers: owner.session.auth,
            json: { status: 'disabled' },
          }),
      ],
      [
        'a removal',
        ({ first, owner, member, team }) =>
          call(first, 'DELETE', `${team}/${member.id}`, { headers: owner.session.auth }),
      ],
      [
        'a replayed refresh token',
        async ({ first, member }) => {
          const refresh = () =>
            call(first, 'POST', '/v1/auth/refresh', {
              json: { refresh_token: member.session.refreshToken },
            });
          assert.equal((await refresh()).status, 200);
          clock.advance(15_000); // past the 10 s grace for two tabs, within the cache's 30 s
          assert.equal((await refresh()).body.code, 'refresh_token_reused');
        },
      ],
    ];
    for (const [ending, end] of endings) {
      it(`a login cached by the instances ends with ${ending} on the very next request, in every instance`, async () => {
        const login = await warmLogin();
        const ended = (await end(login)) as { status?: number; text?: string } | undefined;
        if (ended?.status !== undefined) assert.ok(ended.status < 300, ended.text);
        for (const app of login.instances) {
          const res = await login.me(app);
          assert.equal(res.status, 401, res.text);
          assert.equal(res.body.code, 'invalid_token');
        }
      });
    }

    it("a tenant's suspension and reactivation apply to cached logins on the very next request, in every instance", async () => {
      const { first, owner, instances, me } = await warmLogin();
      const own = `/v1/tenants/${owner.tenantId}`;
      await call(first, 'PATCH', own, { headers: asAdmin, json: { status: 'suspended' } });
      for (const app of instances) assert.equal((await me(app)).body.code, 'tenant_suspended');
      await call(first, 'PATCH', own, { headers: asAdmin, json: { status: 'active' } });
      for (const app of instances) assert.equal((await me(app)).status, 200);
    });

    it('a cached login is never trusted past its expiry, with no change written', async () => {
      const { first, member, instances } = await warmLogin();
      // A login lasts 30 days however often it is refreshed: an access token from its last minute.
      clock.advance(30 * 24 * HOUR - 20_000);
      const refreshed = await call(first, 'POST', '/v1/auth/refresh', {
        json: { refresh_token: member.session.refreshToken },
      });
      assert.equal(refreshed.status, 200, refreshed.text);
      const me = (app: App) =>
        call(app, 'GET', '/v1/auth/me', {
          headers: { authorization: `Bearer ${refreshed.body.access_token}` },
        });
      for (const app of instances) assert.equal((await me(app)).status, 200);
      clock.advance(25_000); // past the login's end, within the cache's 30 s and the token's 15 minutes
      for (const app of instances) {
        const res = await me(app);
        assert.equal(res.status, 401, res.text);
        assert.equal(res.body.code, 'invalid_token');
      }
    });

    it('usage: requests and limited requests per window, counted with the limit; last use written in the background', async () => {
      await awayFromWindowEnd(); // the limiter counts in windows of real time: all 106 in one
      const t = await keyTenant(ctx.app);
      const issued = await adminKey(ctx.app, t.tenantId, { tier: 'public' });
      const counted = counting(ctx.app);
      const first = await call(counted.app, 'GET', '/v1/whoami', {
        headers: withKey(issued.key),
        ip: '198.51.100.7',
      });
      assert.equal(first.status, 200);
      await ctx.app.settle();
      const queries = counted.queries();
      // 105 more from a second address: 101 allowed in all, 5 limited; no database write per request.
      const statuses: number[] = [];
      for (let i = 0; i < 105; i++) {
        const res = await call(counted.app, 'GET', '/v1/whoami', {
          headers: withKey(issued.key),
          ip: '198.51.100.8',
        });
        statuses.push(res.status);
      }
      assert.equal(statuses.filter((s) => s === 429).length, 6);
      await ctx.app.settle();
      // One debounced last-use write (with its anomaly row) for 105 requests, at most a handful of statements.
      assert.ok(counted.queries() - queries <= 4, `${counted.queries() - queries} queries for 105 requests`);
      const usage = await call(ctx.app, 'GET', `/v1/api-keys/${issued.id}/usage`, { headers: asAdmin });
      assert.equal(usage.status, 200, usage.text);
      assert.equal(usage.body.windows.length, 96);
      const current = usage.body.windows.at(-1);
      assert.deepEqual(
        { requests: current.requests, limited: current.limited },
        { requests: 106, limited: 6 },
      );
      assert.equal(Date.parse(current.start) % (15 * 60_000), 0, 'windows start at :00/:15/:30/:45');
      assert.equal(usage.body.last_used_ip, '198.51.100.8');
      assert.ok(usage.body.last_used_at);
      const key = await call(ctx.app, 'GET', `/v1/api-keys/${issued.id}`, { headers: asAdmin });
      assert.deepEqual(
        { last_used_at: key.body.last_used_at, last_used_ip: key.body.last_used_ip },
        { last_used_at: usage.body.last_used_at, last_used_ip: '198.51.100.8' },
        'the key object tells when and from where it was last used',
      );
      const audit = await call(ctx.app, 'GET', `/v1/tenants/${t.tenantId}/audit-events?limit=50`, {
        headers: asAdmin,
      });
      const anomalies = audit.body.data.filter((e: { action: string }) => e.action === 'api_key.anomaly');
      assert.equal(anomalies.length, 1, 'the second address is new; the first use is not an anomaly');
      assert.equal(anomalies[0].metadata.kind, 'new_address');
      // The same write flags the key itself: its latest anomaly, seen by its tenant, in the list too.
      const flag = { kind: 'new_address', ip: '198.51.100.8', detected_at: anomalies[0].created_at };
      const own = await call(ctx.app, 'GET', `/v1/api-keys/${issued.id}`, { headers: t.owner });
      assert.equal(own.status, 200, own.text);
      assert.deepEqual(own.body.anomaly, flag);
      const listed = await call(ctx.app, 'GET', '/v1/api-keys', { headers: t.owner });
      assert.deepEqual(listed.body.data.find((k: { id: string }) => k.id === issued.id)?.anomaly, flag);
      // Another tenant's owner cannot see the key, nor its flag.
      const stranger = await keyTenant(ctx.app);
      for (const path of [`/v1/api-keys/${issued.id}`, `/v1/api-keys/${issued.id}/usage`]) {
        const other = await call(ctx.app, 'GET', path, { headers: stranger.owner });
        assert.equal(other.status, 404, other.text);
        assert.ok(!other.text.includes('198.51.100.8'));
      }
      const theirs = await call(ctx.app, 'GET', '/v1/api-keys', { headers: stranger.owner });
      assert.equal(theirs.status, 200, theirs.text);
      assert.ok(!theirs.body.data.some((k: { id: string }) => k.id === issued.id));
    });

    it('a spike flags the key (once per window); a newer anomaly replaces the flag', async () => {
      const t = await keyTenant(ctx.app);
      const issued = await adminKey(ctx.app, t.tenantId, { tier: 'public' });
      const use = (ip = '198.51.100.20') =>
        call(ctx.app, 'GET', '/v1/whoami', { headers: withKey(issued.key), ip });
      // Read as the admin: the clock moves past the owner's access token.
      const key = async () => {
        const res = await call(ctx.app, 'GET', `/v1/api-keys/${issued.id}`, { headers: asAdmin });
        assert.equal(res.status, 200, res.text);
        return res.body;
      };
      assert.equal((await use()).status, 200);
      await ctx.app.settle();
      assert.equal((await key()).anomaly, null, 'a first use with no history is no anomaly');
      // Just into the next window: one request against a trailing mean of 1/95 is no spike (too few).
      const windowMs = 15 * 60_000;
      clock.advance(windowMs - (clock.now().getTime() % windowMs) + 1_000);
      assert.equal((await use()).status, 200);
      await ctx.app.settle();
      assert.equal((await key()).anomaly, null, 'one request in a window is never a spike');
      // 20 more in the window: found with the next last-use write (a minute later), a spike.
      for (let i = 0; i < 20; i++) assert.equal((await use()).status, 200);
      clock.advance(61_000);
      assert.equal((await use()).status, 200);
      await ctx.app.settle();
      const spiked = await key();
      assert.equal(spiked.anomaly?.kind, 'spike', JSON.stringify(spiked.anomaly));
      assert.equal(spiked.anomaly.requests, 22);
      assert.equal(Date.parse(spiked.anomaly.window_start) % (15 * 60_000), 0);
      assert.ok(Date.parse(spiked.anomaly.detected_at) >= Date.parse(spiked.anomaly.window_start));
      const audit = await call(ctx.app, 'GET', `/v1/tenants/${t.tenantId}/audit-events?limit=50`, {
        headers: asAdmin,
      });
      const events = audit.body.data.filter((e: { action: string }) => e.action === 'api_key.anomaly');
      assert.deepEqual(
        events.map((e: { metadata: unknown }) => e.metadata),
        [{ kind: 'spike', window_start: spiked.anomaly.window_start, requests: 22 }],
      );
      assert.deepEqual(events[0].target, { type: 'api_key', id: issued.id });
      // A use from a new address a minute later: the flag is now the newer anomaly.
      clock.advance(61_000);
      assert.equal((await use('198.51.100.21')).status, 200);
      await ctx.app.settle();
      const moved = await key();
      assert.equal(moved.anomaly.kind, 'new_address');
      assert.equal(moved.anomaly.ip, '198.51.100.21');
      assert.ok(Date.parse(moved.anomaly.detected_at) > Date.parse(spiked.anomaly.detected_at));
      const stranger = await keyTenant(ctx.app);
      const other = await call(ctx.app, 'GET', `/v1/api-keys/${issued.id}`, { headers: stranger.owner });
      assert.equal(other.status, 404, other.text);
    });

    it('a window above 5× the trailing mean, with at least 20 requests, is a spike', async () => {
      const { isSpike } = await import('../../lib/keys/key-usage.js');
      const windows = (counts: number[]) => counts.map((requests) => ({ start: '', requests, limited: 0 }));
      const quiet = Array.from({ length: 95 }, () => 10);
      assert.equal(isSpike(windows([...quiet, 50]), 50), false);
      assert.equal(isSpike(windows([...quiet, 51]), 51), true);
      assert.equal(
        isSpike(windows([...Array.from({ length: 95 }, () => 0), 3]), 3),
        false,
        'no history, no spike',
      );
      const idle = [1, ...Array.from({ length: 94 }, () => 0)];
      assert.equal(isSpike(windows([...idle, 19]), 19), false, 'too few requests to be a spike');
      assert.equal(isSpike(windows([...idle, 20]), 20), true);
    });

    it('300 concurrent requests on a 100-limit key let exactly 100 through, across two instances too', async () => {
      await awayFromWindowEnd(); // the limiter counts in windows of real time: all 300 in one
      const t = await keyTenant(ctx.app);
      const issued = await adminKey(ctx.app, t.tenantId, { tier: 'public' });
      const other = await secondInstance();
      const instances = other ? [ctx.app, other] : [ctx.app];
      const trips = redisRoundTrips(ctx.app); // both instances share one Redis (one bridge)
      const results = await Promise.all(
        Array.from({ length: 300 }, (_, i) =>
          call(instances[i % instances.length] as App, 'GET', '/v1/whoami', { headers: withKey(issued.key) }),
        ),
      );
      const ok = results.filter((r) => r.status === 200);
      const limited = results.filter((r) => r.status === 429);
      assert.equal(ok.length, 100);
      assert.equal(limited.length, 200);
      // Concurrent requests' limits share /pipeline requests (lib/ratelimit/pipeline-batcher.ts), and
      // the shared ones still count each request exactly once. One each would be 300 round trips.
      if (other) assert.ok(trips.count() < results.length, `${trips.count()} Redis round trips`);
      for (const res of limited) {
        assert.equal(res.headers.get('x-ratelimit-remaining'), '0');
        const t = Number(/;t=(\d+)$/.exec(res.headers.get('ratelimit') ?? '')?.[1]);
        assert.ok(t > 0 && Number(res.headers.get('retry-after')) >= t, 'Retry-After never earlier than t');
      }
    });

    it('the instance cache is bounded: least recently used entries go first', async () => {
      const { KeyCache } = await import('../../lib/keys/key-cache.js');
      const cache = new KeyCache(2, 1000);
      const record = { id: 'k' } as never;
      cache.set('a', record, '0:0', 0);
      cache.set('b', record, '0:0', 0);
      assert.ok(cache.get('a', 1));
      cache.set('c', record, '0:0', 2);
      assert.equal(cache.size, 2);
      assert.equal(cache.get('b', 3), undefined, 'b was the least recently used');
      assert.ok(cache.get('a', 3));
      assert.equal(cache.get('a', 1000), undefined, 'past its TTL');
    });
  },
  { options: { now: clock.now } },
);
