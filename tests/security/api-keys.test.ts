/** Attacks on API keys: forged and altered keys, other tenants' keys and ids, escalation, mass assignment. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, it } from 'node:test';
import { checksum } from '../../lib/keys/key-format.js';
import { asAdmin, call } from '../support/client.js';
import { testClock } from '../support/clock.js';
import { addMember } from '../support/fixtures.js';
import { forEachBackend } from '../support/harness.js';
import { adminKey, type IssuedKey, type KeyTenant, keyTenant, withKey } from '../support/keys.js';
import { expectProblem, send, withoutRequestId } from '../support/security.js';

const clock = testClock();
const HOUR = 3600_000;

forEachBackend(
  'API key attacks',
  (ctx) => {
    let a: KeyTenant;
    let b: KeyTenant;
    let aKey: IssuedKey;
    let bKey: IssuedKey;
    before(async () => {
      a = await keyTenant(ctx.app, 'public');
      b = await keyTenant(ctx.app, 'partner');
      aKey = await adminKey(ctx.app, a.tenantId, { scopes: ['contracts', 'team'] });
      bKey = await adminKey(ctx.app, b.tenantId, { tier: 'partner', scopes: ['team', 'webhooks'] });
    });
    const own = () => `/v1/tenants/${a.tenantId}`;

    it('a forged checksum, or any one character changed, is refused as invalid_api_key and never echoed', async () => {
      const key = aKey.key;
      const body = key.slice(0, 38);
      const forged = `${body}${checksum(body) === '000000' ? '000001' : '000000'}`;
      const oneChanged = `${key.slice(0, 25)}${key[25] === 'Z' ? 'Y' : 'Z'}${key.slice(26)}`;
      // With the checksum recomputed (it is public), the key is well-formed but names no key.
      const altered = `${key.slice(0, 10)}${key[10] === 'q' ? 'r' : 'q'}${key.slice(11, 38)}`;
      const recomputed = `${altered}${checksum(altered)}`;
      const otherTier = `heir_pt_${key.slice(8, 38)}`;
      for (const candidate of [forged, oneChanged, recomputed, `${otherTier}${checksum(otherTier)}`]) {
        const res = await send(ctx.app, 'GET', own(), { headers: withKey(candidate) });
        expectProblem(res, 401, 'invalid_api_key', [candidate, key]);
      }
    });

    it("another tenant's key on this tenant's paths → 404, the same answer as for a tenant that does not exist", async () => {
      for (const path of ['', '/team-members']) {
        const theirs = await send(ctx.app, 'GET', `${own()}${path}`, { headers: withKey(bKey.key) });
        expectProblem(theirs, 404, 'not_found', [bKey.key]);
        const nobody = await send(ctx.app, 'GET', `/v1/tenants/${randomUUID()}${path}`, {
          headers: withKey(bKey.key),
        });
        assert.deepEqual(withoutRequestId(theirs.body), withoutRequestId(nobody.body));
      }
    });

    it("another tenant's key id in a path → 404 like a missing id, for every key endpoint, and nothing changes", async () => {
      const cases: [string, string, unknown][] = [
        ['GET', `/v1/api-keys/${bKey.id}`, undefined],
        ['PATCH', `/v1/api-keys/${bKey.id}`, { name: 'mine now' }],
        ['PUT', `/v1/api-keys/${bKey.id}`, { ip_whitelist: ['0.0.0.0/0'] }],
        ['DELETE', `/v1/api-keys/${bKey.id}`, undefined],
        ['POST', `/v1/api-keys/${bKey.id}/rotate`, {}],
        ['GET', `/v1/api-keys/${bKey.id}/usage`, undefined],
      ];
      for (const [method, path, json] of cases) {
        const theirs = await send(ctx.app, method, path, { headers: a.owner, ...(json ? { json } : {}) });
        expectProblem(theirs, 404, 'not_found');
        const missing = await send(ctx.app, method, path.replace(bKey.id, randomUUID()), {
          headers: a.owner,
          ...(json ? { json } : {}),
        });
        assert.deepEqual(withoutRequestId(theirs.body), withoutRequestId(missing.body), `${method} ${path}`);
      }
      const after = await call(ctx.app, 'GET', `/v1/api-keys/${bKey.id}`, { headers: asAdmin });
      assert.equal(after.body.status, 'active');
      assert.equal(after.body.name, bKey.body.name);
      assert.deepEqual(after.body.ip_whitelist, []);
      assert.equal(
        (await send(ctx.app, 'GET', `/v1/tenants/${b.tenantId}`, { headers: withKey(bKey.key) })).status,
        200,
      );
      // Another tenant's key id under this tenant's admin path is a 404 too.
      const underA = await call(ctx.app, 'DELETE', `/v1/tenants/${a.tenantId}/api-keys/${bKey.id}`, {
        headers: asAdmin,
      });
      expectProblem(underA, 404, 'not_found');
    });

    it('tier escalation by create and by PATCH of scopes is refused', async () => {
      for (const body of [
        { tier: 'partner', scopes: ['contracts'] },
        { tier: 'internal', scopes: ['admin'] },
      ]) {
        const res = await send(ctx.app, 'POST', '/v1/api-keys', {
          headers: a.owner,
          json: { name: 'up', ...body },
        });
        expectProblem(res, 403, 'tier_not_allowed');
      }
      const internalByPartnerTenant = await send(ctx.app, 'POST', '/v1/api-keys', {
        headers: b.owner,
        json: { name: 'up', tier: 'internal', scopes: ['admin'] },
      });
      expectProblem(internalByPartnerTenant, 403, 'tier_not_allowed');
      const mine = await send(ctx.app, 'POST', '/v1/api-keys', {
        headers: a.owner,
        json: { name: 'mine', tier: 'public', scopes: ['contracts'] },
      });
      for (const scopes of [['webhooks'], ['embed'], ['admin'], ['contracts', 'admin']]) {
        const res = await send(ctx.app, 'PATCH', `/v1/api-keys/${mine.body.id}`, {
          headers: a.owner,
          json: { scopes },
        });
        expectProblem(res, 422, 'validation_failed');
        assert.ok(res.body.errors.some((e: { code: string }) => e.code === 'tier_not_allowed'));
      }
      // An internal key an admin issued to the tenant stays out of its people's hands: adding `admin`
      // or rotating it (and so learning a secret that may act as the platform admin) is refused.
      const internal = await adminKey(ctx.app, a.tenantId, { tier: 'internal', scopes: ['contracts'] });
      const addAdmin = await send(ctx.app, 'PATCH', `/v1/api-keys/${internal.id}`, {
        headers: a.owner,
        json: { scopes: ['contracts', 'admin'] },
      });
      expectProblem(addAdmin, 403, 'tier_not_allowed');
      const rotate = await send(ctx.app, 'POST', `/v1/api-keys/${internal.id}/rotate`, { headers: a.owner });
      expectProblem(rotate, 403, 'tier_not_allowed');
      const view = await call(ctx.app, 'GET', `/v1/api-keys/${internal.id}`, { headers: asAdmin });
      assert.deepEqual(view.body.scopes, ['contracts']);
      assert.equal(view.body.rotated_at, null);
      // A plain key may not manage keys at all, nor act as an admin.
      const byKey = await send(ctx.app, 'POST', '/v1/api-keys', {
        headers: withKey(aKey.key),
        json: { name: 'k', tier: 'public', scopes: ['contracts'] },
      });
      expectProblem(byKey, 403, 'forbidden', [aKey.key]);
    });

    it('mass assignment: tenant_id, tier, key_hash, created_by and other stored fields in bodies are refused', async () => {
      const base = { name: 'mass', tier: 'public', scopes: ['contracts'] };
      for (const extra of [
        { tenant_id: b.tenantId },
        { key_hash: 'a'.repeat(64) },
        { created_by: randomUUID() },
        { id: randomUUID() },
        { prefix: 'heir_in_' },
        { last4: 'abcd' },
        { status: 'active' },
        { revoked_at: null },
        { key: aKey.key },
      ]) {
        const res = await send(ctx.app, 'POST', '/v1/api-keys', {
          headers: a.owner,
          json: { ...base, ...extra },
        });
        expectProblem(res, 422, 'validation_failed', [aKey.key]);
      }
      const mine = await send(ctx.app, 'POST', '/v1/api-keys', { headers: a.owner, json: base });
      for (const extra of [
        { tier: 'partner' },
        { tenant_id: b.tenantId },
        { key_hash: 'a'.repeat(64) },
        { created_by: randomUUID() },
        { expires_at: '2100-01-01T00:00:00Z' },
      ]) {
        const res = await send(ctx.app, 'PATCH', `/v1/api-keys/${mine.body.id}`, {
          headers: a.owner,
          json: { name: 'x', ...extra },
        });
        expectProblem(res, 422, 'validation_failed');
      }
      const after = await call(ctx.app, 'GET', `/v1/api-keys/${mine.body.id}`, { headers: a.owner });
      assert.equal(after.body.name, 'mass');
      assert.equal(after.body.tenant_id, a.tenantId);
      assert.equal(after.body.tier, 'public');
      assert.equal(after.body.expires_at, mine.body.expires_at);
      // tenant_id from a person is refused on lists as well (only admins name a tenant).
      const list = await send(ctx.app, 'GET', `/v1/api-keys?tenant_id=${b.tenantId}`, { headers: a.owner });
      expectProblem(list, 422, 'validation_failed');
    });

    it('a member cannot create, change, rotate or revoke keys', async () => {
      const member = await addMember(ctx.app, a.tenantId, a.owner, 'member');
      const headers = member.session.auth;
      const create = await send(ctx.app, 'POST', '/v1/api-keys', {
        headers,
        json: { name: 'nope', tier: 'public', scopes: ['contracts'] },
      });
      expectProblem(create, 403, 'forbidden');
      const target = `/v1/api-keys/${aKey.id}`;
      expectProblem(await send(ctx.app, 'PATCH', target, { headers, json: { name: 'x' } }), 403, 'forbidden');
      expectProblem(await send(ctx.app, 'POST', `${target}/rotate`, { headers, json: {} }), 403, 'forbidden');
      expectProblem(await send(ctx.app, 'DELETE', target, { headers }), 403, 'forbidden');
      assert.equal((await send(ctx.app, 'GET', own(), { headers: withKey(aKey.key) })).status, 200);
    });

    it('a revoked key fails on the very next request; the old secret after its grace; an expired key', async () => {
      const revoked = await adminKey(ctx.app, a.tenantId);
      assert.equal((await send(ctx.app, 'GET', own(), { headers: withKey(revoked.key) })).status, 200);
      await call(ctx.app, 'DELETE', `/v1/api-keys/${revoked.id}`, { headers: a.owner });
      expectProblem(
        await send(ctx.app, 'GET', own(), { headers: withKey(revoked.key) }),
        401,
        'key_revoked',
        [revoked.key],
      );

      const rotated = await adminKey(ctx.app, a.tenantId);
      const next = await call(ctx.app, 'POST', `/v1/api-keys/${rotated.id}/rotate`, {
        headers: a.owner,
        json: { grace_period_hours: 2 },
      });
      const expiring = await adminKey(ctx.app, a.tenantId, { expires_in_days: 1 });
      clock.advance(2 * HOUR + 1_000);
      expectProblem(
        await send(ctx.app, 'GET', own(), { headers: withKey(rotated.key) }),
        401,
        'invalid_api_key',
      );
      assert.equal((await send(ctx.app, 'GET', own(), { headers: withKey(next.body.key) })).status, 200);
      clock.advance(22 * HOUR);
      expectProblem(
        await send(ctx.app, 'GET', own(), { headers: withKey(expiring.key) }),
        401,
        'key_expired',
      );
    });

    it('::ffff:-mapped client addresses are their IPv4 address, for lists in either form', async () => {
      for (const entry of ['203.0.113.7', '::ffff:203.0.113.7', '::ffff:203.0.113.0/120']) {
        const key = await adminKey(ctx.app, a.tenantId, { ip_whitelist: [entry] });
        for (const ip of ['203.0.113.7', '::ffff:203.0.113.7', '::ffff:cb00:7107']) {
          const res = await send(ctx.app, 'GET', own(), { headers: withKey(key.key), ip });
          assert.equal(res.status, 200, `${ip} against ${entry}: ${res.text}`);
        }
        // NAT64 and the IPv4-compatible ::cb00:7107 carry the same 32 bits but are other addresses.
        // (ipaddr.js reads the dotted `::203.0.113.7` as mapped; no host is reachable at either.)
        for (const ip of ['203.0.114.7', '::ffff:203.0.114.7', '64:ff9b::cb00:7107', '::cb00:7107']) {
          const res = await send(ctx.app, 'GET', own(), { headers: withKey(key.key), ip });
          expectProblem(res, 403, 'ip_not_allowed', [key.key]);
        }
      }
    });

    it('a key in the query string is refused (400 credentials_in_url) under any name, and never echoed', async () => {
      for (const query of [
        `api_key=${aKey.key}`,
        `x-api-key=${aKey.key}`,
        `q=${aKey.key}`,
        `note=key%20${aKey.key}`,
      ]) {
        const res = await send(ctx.app, 'GET', `${own()}?${query}`);
        expectProblem(res, 400, 'credentials_in_url', [aKey.key]);
        const beside = await send(ctx.app, 'GET', `${own()}?${query}`, { headers: withKey(aKey.key) });
        expectProblem(beside, 400, 'credentials_in_url', [aKey.key]);
      }
      const verify = await send(ctx.app, 'POST', `/v1/keys/verify?key=${aKey.key}`, {
        headers: asAdmin,
        json: { key: aKey.key },
      });
      expectProblem(verify, 400, 'credentials_in_url', [aKey.key]);
    });
  },
  { options: { now: clock.now } },
);
