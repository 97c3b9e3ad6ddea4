import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { it } from 'node:test';
import { policies } from '../../lib/ratelimit/policies.js';
import { asAdmin, call } from '../support/client.js';
import { testClock } from '../support/clock.js';
import { addMember } from '../support/fixtures.js';
import { forEachBackend } from '../support/harness.js';
import { adminKey, counting, keyTenant, withKey } from '../support/keys.js';
import { errorPaths } from '../support/problems.js';

const clock = testClock();
const HOUR = 3600_000;
const KEY_SHAPE = /^heir_(pk|pt|in)_[0-9A-Za-z]{36}$/;

forEachBackend(
  'API keys',
  (ctx) => {
    it("the seed's own requests work verbatim: create a partner key with a JWT, then PUT its IP list", async () => {
      const t = await keyTenant(ctx.app, 'partner');
      const created = await call(ctx.app, 'POST', '/api/v1/api-keys', {
        headers: t.owner,
        json: { name: 'Production Key', tier: 'partner', scopes: ['contracts', 'vaults', 'webhooks'] },
      });
      assert.equal(created.status, 201, created.text);
      const key = created.body;
      assert.match(key.key, KEY_SHAPE);
      assert.equal(key.key.length, 44);
      assert.equal(key.prefix, 'heir_pt_');
      assert.ok(key.key.startsWith(key.prefix));
      assert.equal(key.last4, key.key.slice(-4));
      assert.equal(key.tier, 'partner');
      assert.deepEqual(key.scopes, ['contracts', 'vaults', 'webhooks']);
      assert.deepEqual(key.ip_whitelist, []);
      assert.equal(key.tenant_id, t.tenantId);
      assert.deepEqual(key.created_by, { type: 'user', id: t.ownerId });
      assert.equal(key.status, 'active');
      assert.equal(key.revoked_at, null);
      assert.equal(key.anomaly, null);
      assert.deepEqual(key.rate_limit, { limit: 1000, window_seconds: 900 });
      const days = (Date.parse(key.expires_at) - Date.parse(key.created_at)) / (24 * HOUR);
      assert.equal(days, 365);

      const put = await call(ctx.app, 'PUT', `/api/v1/api-keys/${key.id}`, {
        headers: t.owner,
        json: { ip_whitelist: ['203.0.113.0/24', '198.51.100.42'] },
      });
      assert.equal(put.status, 200, put.text);
      assert.deepEqual(put.body.ip_whitelist, ['203.0.113.0/24', '198.51.100.42']);
      assert.equal(put.body.name, 'Production Key', 'PUT is partial: other fields stay');
      assert.equal(put.body.key, undefined, 'the full key is shown only at creation');

      // The key authenticates from an allowed IP, by x-api-key and by Bearer, and nowhere else.
      const own = `/v1/tenants/${t.tenantId}`;
      for (const headers of [withKey(key.key), { authorization: `Bearer ${key.key}` }]) {
        const ok = await call(ctx.app, 'GET', own, { headers, ip: '203.0.113.77' });
        assert.equal(ok.status, 200, ok.text);
      }
      const exact = await call(ctx.app, 'GET', own, { headers: withKey(key.key), ip: '198.51.100.42' });
      assert.equal(exact.status, 200);
      const elsewhere = await call(ctx.app, 'GET', own, { headers: withKey(key.key), ip: '198.51.100.43' });
      assert.equal(elsewhere.status, 403);
      assert.equal(elsewhere.body.code, 'ip_not_allowed');

      // At rest: the SHA-256 of the key, its prefix and last four; nothing that authenticates.
      const row = await ctx.app.db
        .selectFrom('api_keys')
        .selectAll()
        .where('id', '=', key.id)
        .executeTakeFirstOrThrow();
      assert.equal(row.key_hash, createHash('sha256').update(key.key).digest('hex'));
      const dump = JSON.stringify(row);
      assert.ok(!dump.includes(key.key.slice(8, 38)), 'no part of the random secret is stored');
    });

    it('GET, list with cursor pagination and ?status=, and usage', async () => {
      const t = await keyTenant(ctx.app);
      const ids: string[] = [];
      for (const name of ['one', 'two', 'three']) {
        const res = await call(ctx.app, 'POST', '/v1/api-keys', {
          headers: t.owner,
          json: { name, tier: 'public', scopes: ['contracts'] },
        });
        assert.equal(res.status, 201, res.text);
        ids.push(res.body.id);
      }
      const revoked = await call(ctx.app, 'DELETE', `/v1/api-keys/${ids[0]}`, { headers: t.owner });
      assert.equal(revoked.status, 200);
      const first = await call(ctx.app, 'GET', '/v1/api-keys?limit=2', { headers: t.owner });
      assert.equal(first.status, 200, first.text);
      assert.deepEqual(
        first.body.data.map((k: { id: string }) => k.id),
        [ids[2], ids[1]],
      );
      assert.ok(first.body.data.every((k: Record<string, unknown>) => !('key' in k)));
      const second = await call(ctx.app, 'GET', `/v1/api-keys?limit=2&cursor=${first.body.next_cursor}`, {
        headers: t.owner,
      });
      assert.deepEqual(
        second.body.data.map((k: { id: string }) => k.id),
        [ids[0]],
      );
      assert.equal(second.body.next_cursor, null);
      const onlyRevoked = await call(ctx.app, 'GET', '/v1/api-keys?status=revoked', { headers: t.owner });
      assert.deepEqual(
        onlyRevoked.body.data.map((k: { id: string }) => k.id),
        [ids[0]],
      );
      const onlyActive = await call(ctx.app, 'GET', '/v1/api-keys?status=active', { headers: t.owner });
      assert.deepEqual(
        onlyActive.body.data.map((k: { id: string }) => k.id),
        [ids[2], ids[1]],
      );
      const bad = await call(ctx.app, 'GET', '/v1/api-keys?status=sleeping', { headers: t.owner });
      assert.equal(bad.status, 422);
      const one = await call(ctx.app, 'GET', `/v1/api-keys/${ids[1]}`, { headers: t.owner });
      assert.equal(one.status, 200);
      assert.equal(one.body.name, 'two');
      const usage = await call(ctx.app, 'GET', `/v1/api-keys/${ids[1]}/usage`, { headers: t.owner });
      assert.equal(usage.status, 200, usage.text);
      assert.equal(usage.body.key_id, ids[1]);
      assert.equal(usage.body.windows.length, 96);
      assert.ok(
        usage.body.windows.every((w: { requests: number }) => w.requests === 0),
        'never used',
      );
      assert.equal(usage.body.last_used_at, null);
      assert.equal(usage.body.last_used_ip, null);
      // A member reads keys but does not manage them.
      const member = await addMember(ctx.app, t.tenantId, t.owner, 'member');
      const list = await call(ctx.app, 'GET', '/v1/api-keys', { headers: member.session.auth });
      assert.equal(list.status, 200);
      assert.equal(list.body.data.length, 3);
    });

    it('tier rules: scopes per tier (422 tier_not_allowed), max_tier and internal (403 tier_not_allowed)', async () => {
      const t = await keyTenant(ctx.app, 'partner');
      const create = (body: Record<string, unknown>) =>
        call(ctx.app, 'POST', '/v1/api-keys', { headers: t.owner, json: { name: 'k', ...body } });
      const wrongScope = await create({ tier: 'public', scopes: ['contracts', 'webhooks'] });
      assert.equal(wrongScope.status, 422, wrongScope.text);
      assert.deepEqual(wrongScope.body.errors, [
        {
          path: 'scopes.1',
          message: 'A public key may not carry the webhooks scope.',
          code: 'tier_not_allowed',
        },
      ]);
      const adminScope = await create({ tier: 'partner', scopes: ['admin'] });
      assert.equal(adminScope.status, 422);
      assert.equal(adminScope.body.errors[0].code, 'tier_not_allowed');
      const internal = await create({ tier: 'internal', scopes: ['contracts'] });
      assert.equal(internal.status, 403);
      assert.equal(internal.body.code, 'tier_not_allowed');
      const low = await keyTenant(ctx.app, 'public');
      const above = await call(ctx.app, 'POST', '/v1/api-keys', {
        headers: low.owner,
        json: { name: 'k', tier: 'partner', scopes: ['contracts'] },
      });
      assert.equal(above.status, 403);
      assert.equal(above.body.code, 'tier_not_allowed');
      for (const body of [
        { tier: 'public', scopes: [] },
        { tier: 'public', scopes: ['contracts'], expires_in_days: 0 },
        { tier: 'public', scopes: ['contracts'], expires_in_days: 3651 },
        { tier: 'public', scopes: ['contracts'], expires_in_days: 1.5 },
        {
          tier: 'public',
          scopes: ['contracts'],
          ip_whitelist: Array.from({ length: 51 }, (_, i) => `10.0.0.${i}`),
        },
        { tier: 'public', scopes: ['contracts'], ip_whitelist: ['not-an-ip'] },
        { tier: 'gold', scopes: ['contracts'] },
      ]) {
        const res = await create(body);
        assert.equal(res.status, 422, JSON.stringify(body));
      }
      const longest = await create({ tier: 'public', scopes: ['contracts'], expires_in_days: 3650 });
      assert.equal(longest.status, 201);
      // Admins issue any tier, above the tenant's max_tier too.
      const issued = await adminKey(ctx.app, low.tenantId, {
        tier: 'internal',
        scopes: ['contracts', 'admin'],
      });
      assert.match(issued.key, /^heir_in_/);
      assert.deepEqual(issued.body.created_by.type, 'admin_key');
    });

    it('updates: PUT and PATCH alike, partial; tier and unknown fields → 422; scopes stay within the tier', async () => {
      const t = await keyTenant(ctx.app);
      const created = await call(ctx.app, 'POST', '/v1/api-keys', {
        headers: t.owner,
        json: { name: 'k', tier: 'public', scopes: ['contracts'] },
      });
      const path = `/v1/api-keys/${created.body.id}`;
      const patched = await call(ctx.app, 'PATCH', path, {
        headers: t.owner,
        json: { scopes: ['vaults'], name: 'renamed' },
      });
      assert.equal(patched.status, 200, patched.text);
      assert.deepEqual(patched.body.scopes, ['vaults']);
      assert.equal(patched.body.name, 'renamed');
      const tier = await call(ctx.app, 'PATCH', path, { headers: t.owner, json: { tier: 'partner' } });
      assert.equal(tier.status, 422);
      assert.deepEqual(errorPaths(tier.body), ['tier']);
      const escalate = await call(ctx.app, 'PUT', path, { headers: t.owner, json: { scopes: ['webhooks'] } });
      assert.equal(escalate.status, 422);
      assert.equal(escalate.body.errors[0].code, 'tier_not_allowed');
      const empty = await call(ctx.app, 'PATCH', path, { headers: t.owner, json: {} });
      assert.equal(empty.status, 422);
      const after = await call(ctx.app, 'GET', path, { headers: t.owner });
      assert.deepEqual(after.body.scopes, ['vaults']);
      assert.equal(after.body.tier, 'public');
    });

    it('rotation keeps the key: the previous secret works through the grace period, then stops', async () => {
      const t = await keyTenant(ctx.app);
      const issued = await adminKey(ctx.app, t.tenantId, {
        ip_whitelist: ['203.0.113.0/24'],
        name: 'rotating',
      });
      const own = `/v1/tenants/${t.tenantId}`;
      const works = async (key: string) =>
        (await call(ctx.app, 'GET', own, { headers: withKey(key), ip: '203.0.113.9' })).status;
      const rotated = await call(ctx.app, 'POST', `/v1/api-keys/${issued.id}/rotate`, {
        headers: t.owner,
        json: { grace_period_hours: 1 },
      });
      assert.equal(rotated.status, 200, rotated.text);
      const r = rotated.body;
      assert.equal(r.id, issued.id);
      assert.notEqual(r.key, issued.key);
      assert.match(r.key, KEY_SHAPE);
      assert.equal(r.status, 'rotating');
      assert.equal(r.name, 'rotating');
      assert.deepEqual(r.scopes, issued.body.scopes);
      assert.deepEqual(r.ip_whitelist, ['203.0.113.0/24']);
      assert.equal(r.expires_at, issued.body.expires_at);
      assert.equal(Date.parse(r.previous_secret_expires_at) - Date.parse(r.rotated_at), HOUR);
      assert.equal(await works(issued.key), 200);
      assert.equal(await works(r.key), 200);
      clock.advance(HOUR + 60_000);
      assert.equal(await works(issued.key), 401, 'the old secret stops after its grace period');
      assert.equal(await works(r.key), 200);
      const after = await call(ctx.app, 'GET', `/v1/api-keys/${issued.id}`, { headers: asAdmin });
      assert.equal(after.body.status, 'active');
      assert.equal(after.body.previous_secret_expires_at, null);
    });

    it('a second rotation during a grace period ends the older secret at once (never three live secrets)', async () => {
      const t = await keyTenant(ctx.app);
      const first = await adminKey(ctx.app, t.tenantId);
      const rotate = (grace?: number) =>
        call(ctx.app, 'POST', `/v1/api-keys/${first.id}/rotate`, {
          headers: asAdmin,
          json: grace === undefined ? {} : { grace_period_hours: grace },
        });
      const second = await rotate();
      assert.equal(second.status, 200);
      assert.equal(
        Date.parse(second.body.previous_secret_expires_at) - Date.parse(second.body.rotated_at),
        24 * HOUR,
      );
      const third = await rotate(24);
      const own = `/v1/tenants/${t.tenantId}`;
      const status = async (key: string) =>
        (await call(ctx.app, 'GET', own, { headers: withKey(key) })).status;
      assert.equal(await status(first.key), 401);
      assert.equal(await status(second.body.key), 200);
      assert.equal(await status(third.body.key), 200);
      const none = await rotate(0);
      assert.equal(none.body.status, 'active');
      assert.equal(await status(third.body.key), 401, 'grace 0 ends the previous secret now');
      assert.equal(await status(none.body.key), 200);
      // The grace period never outlives the key.
      const short = await adminKey(ctx.app, t.tenantId, { expires_in_days: 1 });
      const capped = await call(ctx.app, 'POST', `/v1/api-keys/${short.id}/rotate`, {
        headers: asAdmin,
        json: { grace_period_hours: 168 },
      });
      assert.equal(capped.body.previous_secret_expires_at, short.body.expires_at);
      for (const grace of [-1, 169, 2.5, '24']) {
        const bad = await rotate(grace as number);
        assert.equal(bad.status, 422, String(grace));
      }
    });

    it('revocation takes effect on the very next request; revoked keys neither rotate nor change', async () => {
      const t = await keyTenant(ctx.app);
      const issued = await adminKey(ctx.app, t.tenantId);
      const own = `/v1/tenants/${t.tenantId}`;
      assert.equal((await call(ctx.app, 'GET', own, { headers: withKey(issued.key) })).status, 200);
      const revoked = await call(ctx.app, 'DELETE', `/v1/api-keys/${issued.id}`, { headers: t.owner });
      assert.equal(revoked.status, 200);
      assert.equal(revoked.body.status, 'revoked');
      assert.ok(revoked.body.revoked_at);
      const next = await call(ctx.app, 'GET', own, { headers: withKey(issued.key) });
      assert.equal(next.status, 401);
      assert.equal(next.body.code, 'key_revoked');
      const again = await call(ctx.app, 'DELETE', `/v1/api-keys/${issued.id}`, { headers: t.owner });
      assert.equal(again.status, 200);
      assert.equal(again.body.revoked_at, revoked.body.revoked_at, 'revoking twice changes nothing');
      const rotate = await call(ctx.app, 'POST', `/v1/api-keys/${issued.id}/rotate`, { headers: t.owner });
      assert.equal(rotate.status, 409);
      const change = await call(ctx.app, 'PATCH', `/v1/api-keys/${issued.id}`, {
        headers: t.owner,
        json: { name: 'x' },
      });
      assert.equal(change.status, 409);
      // The admin route under the tenant revokes too.
      const other = await adminKey(ctx.app, t.tenantId);
      const byAdmin = await call(ctx.app, 'DELETE', `/v1/tenants/${t.tenantId}/api-keys/${other.id}`, {
        headers: asAdmin,
      });
      assert.equal(byAdmin.status, 200);
      assert.equal(
        (await call(ctx.app, 'GET', own, { headers: withKey(other.key) })).body.code,
        'key_revoked',
      );
    });

    it('an expired key → 401 key_expired; a suspended tenant’s key → 403 tenant_suspended', async () => {
      const t = await keyTenant(ctx.app);
      const short = await adminKey(ctx.app, t.tenantId, { expires_in_days: 1 });
      const long = await adminKey(ctx.app, t.tenantId);
      const own = `/v1/tenants/${t.tenantId}`;
      clock.advance(24 * HOUR + 60_000);
      const expired = await call(ctx.app, 'GET', own, { headers: withKey(short.key) });
      assert.equal(expired.status, 401);
      assert.equal(expired.body.code, 'key_expired');
      const view = await call(ctx.app, 'GET', `/v1/api-keys/${short.id}`, { headers: asAdmin });
      assert.equal(view.body.status, 'expired');
      const rotate = await call(ctx.app, 'POST', `/v1/api-keys/${short.id}/rotate`, { headers: asAdmin });
      assert.equal(rotate.status, 409);
      const suspend = await call(ctx.app, 'PATCH', own, { headers: asAdmin, json: { status: 'suspended' } });
      assert.equal(suspend.status, 200);
      const suspended = await call(ctx.app, 'GET', own, { headers: withKey(long.key) });
      assert.equal(suspended.status, 403);
      assert.equal(suspended.body.code, 'tenant_suspended');
      await call(ctx.app, 'PATCH', own, { headers: asAdmin, json: { status: 'active' } });
      assert.equal((await call(ctx.app, 'GET', own, { headers: withKey(long.key) })).status, 200);
    });

    it('at most 100 active keys per tenant: 150 parallel creates leave exactly 100', async () => {
      const t = await keyTenant(ctx.app);
      const results = await Promise.all(
        Array.from({ length: 150 }, (_, i) =>
          call(ctx.app, 'POST', `/v1/tenants/${t.tenantId}/api-keys`, {
            headers: asAdmin,
            json: { name: `k${i}`, scopes: ['contracts'] },
          }),
        ),
      );
      const statuses = results.map((res) => res.status);
      assert.equal(statuses.filter((s) => s === 201).length, 100, JSON.stringify(statuses));
      assert.equal(statuses.filter((s) => s === 409).length, 50);
      assert.ok(results.filter((res) => res.status === 409).every((res) => res.body.code === 'conflict'));
      const count = await ctx.app.db
        .selectFrom('api_keys')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .where('tenant_id', '=', t.tenantId)
        .executeTakeFirstOrThrow();
      assert.equal(Number(count.n), 100);
      const one = results.find((res) => res.status === 201);
      await call(ctx.app, 'DELETE', `/v1/tenants/${t.tenantId}/api-keys/${one?.body.id}`, {
        headers: asAdmin,
      });
      const room = await call(ctx.app, 'POST', '/v1/api-keys', {
        headers: t.owner,
        json: { name: 'after a revocation', tier: 'public', scopes: ['contracts'] },
      });
      assert.equal(room.status, 201, 'a revoked key frees its place');
    });

    it('an internal key with the admin scope does what the admin key does, audited under its own id', async () => {
      const t = await keyTenant(ctx.app);
      const internal = await adminKey(ctx.app, t.tenantId, { tier: 'internal', scopes: ['admin'] });
      const created = await call(ctx.app, 'POST', '/v1/tenants', {
        headers: withKey(internal.key),
        json: { name: 'Made by a key', owner: { email: `k.${randomUUID()}@example.com`, name: 'K' } },
      });
      assert.equal(created.status, 201, created.text);
      const events = await call(ctx.app, 'GET', `/v1/tenants/${created.body.tenant.id}/audit-events`, {
        headers: asAdmin,
      });
      const made = events.body.data.find((e: { action: string }) => e.action === 'tenant.created');
      assert.deepEqual(made.actor, { type: 'api_key', id: internal.id });
      // It names the tenant it acts on, as the admin key does.
      const noTenant = await call(ctx.app, 'GET', '/v1/api-keys', { headers: withKey(internal.key) });
      assert.equal(noTenant.status, 422);
      assert.deepEqual(errorPaths(noTenant.body), ['query.tenant_id']);
      const listed = await call(ctx.app, 'GET', `/v1/api-keys?tenant_id=${t.tenantId}`, {
        headers: withKey(internal.key),
      });
      assert.equal(listed.status, 200);
      assert.ok(listed.body.data.some((k: { id: string }) => k.id === internal.id));
      const missing = await call(ctx.app, 'GET', `/v1/api-keys?tenant_id=${randomUUID()}`, {
        headers: asAdmin,
      });
      assert.equal(missing.status, 404);
      const byAdmin = await call(ctx.app, 'POST', '/v1/api-keys', {
        headers: asAdmin,
        json: { name: 'for a tenant', tier: 'public', scopes: ['contracts'], tenant_id: t.tenantId },
      });
      assert.equal(byAdmin.status, 201, byAdmin.text);
      assert.equal(byAdmin.body.tenant_id, t.tenantId);
    });

    it('create, update, rotate and revoke are audit events with the actor, and never hold a secret', async () => {
      const t = await keyTenant(ctx.app);
      const created = await call(ctx.app, 'POST', '/v1/api-keys', {
        headers: t.owner,
        json: { name: 'audited', tier: 'public', scopes: ['contracts'] },
      });
      const path = `/v1/api-keys/${created.body.id}`;
      await call(ctx.app, 'PATCH', path, { headers: t.owner, json: { scopes: ['contracts', 'vaults'] } });
      const rotated = await call(ctx.app, 'POST', `${path}/rotate`, { headers: asAdmin });
      await call(ctx.app, 'DELETE', path, { headers: t.owner });
      const events = await call(ctx.app, 'GET', `/v1/tenants/${t.tenantId}/audit-events`, {
        headers: t.owner,
      });
      const keyEvents = events.body.data
        .filter((e: { action: string }) => e.action.startsWith('api_key.'))
        .map((e: { action: string; actor: { type: string; id: string }; target: unknown }) => [
          e.action,
          e.actor,
          e.target,
        ])
        .reverse();
      const target = { type: 'api_key', id: created.body.id };
      assert.deepEqual(keyEvents, [
        ['api_key.created', { type: 'user', id: t.ownerId }, target],
        ['api_key.updated', { type: 'user', id: t.ownerId }, target],
        [
          'api_key.rotated',
          {
            type: 'admin_key',
            id: events.body.data.find((e: { action: string }) => e.action === 'api_key.rotated').actor.id,
          },
          target,
        ],
        ['api_key.revoked', { type: 'user', id: t.ownerId }, target],
      ]);
      const text = JSON.stringify(events.body);
      for (const secret of [created.body.key, rotated.body.key]) {
        assert.ok(!text.includes(secret));
        assert.ok(!text.includes(createHash('sha256').update(secret).digest('hex')));
      }
      const updated = events.body.data.find((e: { action: string }) => e.action === 'api_key.updated');
      assert.deepEqual(updated.metadata.changes, {
        scopes: { from: ['contracts'], to: ['contracts', 'vaults'] },
      });
    });

    it('POST /v1/keys/verify answers with the same verification, as data', async () => {
      const t = await keyTenant(ctx.app);
      const issued = await adminKey(ctx.app, t.tenantId, {
        tier: 'partner',
        scopes: ['contracts', 'webhooks'],
        ip_whitelist: ['192.0.2.0/24'],
      });
      const verify = (body: Record<string, unknown>) =>
        call(ctx.app, 'POST', '/v1/keys/verify', { headers: asAdmin, json: body });
      const ok = await verify({ key: issued.key, scope: 'webhooks', ip: '192.0.2.8' });
      assert.equal(ok.status, 200, ok.text);
      assert.deepEqual(ok.body, {
        valid: true,
        code: 'valid',
        key_id: issued.id,
        tenant_id: t.tenantId,
        tier: 'partner',
        scopes: ['contracts', 'webhooks'],
        expires_at: issued.body.expires_at,
        rate_limit: { limit: 1000, window_seconds: 900 },
      });
      assert.deepEqual(
        (await verify({ key: issued.key, scope: 'embed', ip: '192.0.2.8' })).body.code,
        'insufficient_scope',
      );
      assert.deepEqual((await verify({ key: issued.key, ip: '::ffff:192.0.2.8' })).body.code, 'valid');
      assert.deepEqual((await verify({ key: issued.key, ip: '198.51.100.1' })).body.code, 'ip_not_allowed');
      assert.deepEqual(
        (await verify({ key: issued.key })).body.code,
        'ip_not_allowed',
        'no ip: an allow-list admits nobody',
      );
      const forged = `${issued.key.slice(0, -1)}${issued.key.endsWith('A') ? 'B' : 'A'}`;
      assert.deepEqual((await verify({ key: forged })).body, { valid: false, code: 'invalid_api_key' });
      assert.equal((await verify({ key: issued.key, ip: '10.0.0.0/8' })).status, 422);
      await call(ctx.app, 'DELETE', `/v1/api-keys/${issued.id}`, { headers: asAdmin });
      const revoked = await verify({ key: issued.key, ip: '192.0.2.8' });
      assert.equal(revoked.body.valid, false);
      assert.equal(revoked.body.code, 'key_revoked');
      assert.equal(revoked.body.key_id, issued.id);
      const byPerson = await call(ctx.app, 'POST', '/v1/keys/verify', {
        headers: t.owner,
        json: { key: issued.key },
      });
      assert.equal(byPerson.status, 403);
    });

    it('a key of the wrong shape or checksum is refused with no database or rate-limiter call at all', async () => {
      const t = await keyTenant(ctx.app);
      const issued = await adminKey(ctx.app, t.tenantId);
      const counted = counting(ctx.app);
      const own = `/v1/tenants/${t.tenantId}`;
      const forged = `${issued.key.slice(0, 20)}${issued.key[20] === 'a' ? 'b' : 'a'}${issued.key.slice(21)}`;
      for (const key of [forged, 'heir_pk_short', `${issued.key}x`]) {
        const res = await call(counted.app, 'GET', own, { headers: withKey(key) });
        assert.equal(res.status, 401);
        assert.equal(res.body.code, 'invalid_api_key');
      }
      assert.equal(counted.queries(), 0);
      assert.equal(counted.limiterCalls(), 0);
      // The control: a well-formed key costs one lookup (and its failure one count against the IP).
      const ok = await call(counted.app, 'GET', own, { headers: withKey(issued.key) });
      assert.equal(ok.status, 200);
      // The key's first use is written after the response; it may start before `call` returns, so
      // count once it has ended.
      await ctx.app.settle();
      assert.equal(
        counted.queries(),
        3,
        'one to verify the key, one for the tenant, then the last-use write after the response',
      );
    });

    it('refused requests spend a budget of their own, never the quota: probing ends in 429', async () => {
      const t = await keyTenant(ctx.app);
      const other = await keyTenant(ctx.app);
      const issued = await adminKey(ctx.app, t.tenantId, { tier: 'public' });
      const theirKey = await adminKey(ctx.app, other.tenantId);
      const quota = () => ctx.app.limiter.peek(policies.tier.public, issued.id);
      const before = (await quota()).remaining;
      const probes = [
        `/v1/tenants/${other.tenantId}`,
        `/v1/tenants/${randomUUID()}/team-members`,
        `/v1/tenants/${other.tenantId}/team-members`,
      ];
      let status = 0;
      let sent = 0;
      for (; sent < 120 && status !== 429; sent++) {
        const res = await call(ctx.app, 'GET', probes[sent % probes.length] as string, {
          headers: withKey(issued.key),
        });
        status = res.status;
        if (status === 429) {
          assert.equal(res.body.code, 'rate_limited');
          assert.equal(res.headers.get('ratelimit-policy'), `"refusals";q=${policies.refusals.limit};w=900`);
          assert.ok(Number(res.headers.get('retry-after')) >= 1);
        } else {
          assert.ok([403, 404].includes(status), res.text);
        }
      }
      assert.equal(status, 429);
      assert.equal(sent, policies.refusals.limit + 1);
      assert.equal((await quota()).remaining, before, 'no refused request spent quota');
      // Allowed requests still work, and spend quota.
      const fine = await call(ctx.app, 'GET', `/v1/tenants/${t.tenantId}`, { headers: withKey(issued.key) });
      assert.equal(fine.status, 200);
      assert.equal((await quota()).remaining, before - 1);
      // Another tenant's key id in a path is a refusal too (404), for people as for keys.
      for (let i = 0; i < policies.refusals.limit; i++) {
        await ctx.app.limiter.limit(policies.refusals, `user:${t.ownerId}`);
      }
      const probe = await call(ctx.app, 'GET', `/v1/api-keys/${theirKey.id}`, { headers: t.owner });
      assert.equal(probe.status, 429);
    });
  },
  { options: { now: clock.now } },
);
