import assert from 'node:assert/strict';
import { it } from 'node:test';
import { asAdmin, call } from '../support/client.js';
import { addMember } from '../support/fixtures.js';
import { forEachBackend } from '../support/harness.js';
import { adminKey, keyTenant, withKey } from '../support/keys.js';

const business = {
  legal_name: 'Adaeze Foods Limited',
  trade_name: 'Adaeze Foods',
  tin: '12345678-0001',
  email: 'Accounts@Adaeze.example',
  phone: '+234 803 000 0000',
  address: { line1: '12 Marina Road', city: 'Lagos', state: 'Lagos', country: 'NG' },
};

forEachBackend('tenant settings', (ctx) => {
  it('business settings: null until saved, then replaced by PUT and audited by field name', async () => {
    const t = await keyTenant(ctx.app);
    const path = `/v1/tenants/${t.tenantId}/settings/business`;
    const empty = await call(ctx.app, 'GET', path, { headers: t.owner });
    assert.equal(empty.status, 200, empty.text);
    assert.equal(empty.body.legal_name, null);
    assert.equal(empty.body.updated_at, null);

    const put = await call(ctx.app, 'PUT', path, { headers: t.owner, json: business });
    assert.equal(put.status, 200, put.text);
    assert.equal(put.body.legal_name, business.legal_name);
    assert.deepEqual(put.body.address, business.address);
    assert.ok(put.body.updated_at);

    const key = await adminKey(ctx.app, t.tenantId, { scopes: ['settings'] });
    const read = await call(ctx.app, 'GET', path, { headers: withKey(key.key) });
    assert.equal(read.status, 200, read.text);
    assert.equal(read.body.tin, business.tin);

    // PUT replaces: fields left out become null.
    const { trade_name: _t, phone: _p, address: _a, ...required } = business;
    const replaced = await call(ctx.app, 'PUT', path, { headers: withKey(key.key), json: required });
    assert.equal(replaced.status, 200, replaced.text);
    assert.equal(replaced.body.trade_name, null);
    assert.equal(replaced.body.address, null);

    const audit = await call(ctx.app, 'GET', `/v1/tenants/${t.tenantId}/audit-events`, { headers: t.owner });
    const events = audit.body.data.filter(
      (event: { action: string }) => event.action === 'settings.business_updated',
    );
    assert.equal(events.length, 2);
    assert.deepEqual(events[0].metadata.fields.sort(), ['address', 'phone', 'trade_name']);
    assert.equal(events[0].actor.type, 'api_key');
  });

  it('business settings are validated: TIN, country, email, unknown fields', async () => {
    const t = await keyTenant(ctx.app);
    const path = `/v1/tenants/${t.tenantId}/settings/business`;
    for (const [patch, field] of [
      [{ tin: 'abc' }, 'tin'],
      [{ address: { ...business.address, country: 'Nigeria' } }, 'address.country'],
      [{ email: 'not-an-email' }, 'email'],
      [{ logo: 'x' }, ''],
    ] as const) {
      const res = await call(ctx.app, 'PUT', path, { headers: t.owner, json: { ...business, ...patch } });
      assert.equal(res.status, 422, res.text);
      assert.ok(
        res.body.errors.some((error: { path: string }) => error.path === field),
        `${field}: ${res.text}`,
      );
    }
  });

  it('a member reads the settings but may not change them', async () => {
    const t = await keyTenant(ctx.app);
    const member = await addMember(ctx.app, t.tenantId, t.owner, 'member');
    const path = `/v1/tenants/${t.tenantId}/settings/business`;
    assert.equal((await call(ctx.app, 'GET', path, { headers: member.session.auth })).status, 200);
    const put = await call(ctx.app, 'PUT', path, { headers: member.session.auth, json: business });
    assert.equal(put.status, 403, put.text);
  });

  it('FIRS credentials are stored encrypted, answered masked, and never readable in full', async () => {
    const t = await keyTenant(ctx.app);
    const path = `/v1/tenants/${t.tenantId}/settings/firs-credentials`;
    const none = await call(ctx.app, 'GET', path, { headers: t.owner });
    assert.equal(none.status, 200, none.text);
    assert.deepEqual(none.body, {
      client_id: null,
      client_secret: null,
      api_key: null,
      updated_at: null,
      oauth: { connected: false, expires_at: null },
    });
    const secret = 'firs-secret-Zq81xW0p';
    const apiKey = 'firs-api-key-77Hh2Lm3';
    const key = await adminKey(ctx.app, t.tenantId, { scopes: ['credentials'] });
    const put = await call(ctx.app, 'PUT', path, {
      headers: withKey(key.key),
      json: { client_id: 'adaeze-client', client_secret: secret, api_key: apiKey },
    });
    assert.equal(put.status, 200, put.text);
    assert.equal(put.body.client_id, 'adaeze-client');
    assert.equal(put.body.client_secret, '…xW0p');
    assert.equal(put.body.api_key, '…2Lm3');
    assert.ok(!put.text.includes(secret) && !put.text.includes(apiKey));

    const get = await call(ctx.app, 'GET', path, { headers: t.owner });
    assert.equal(get.body.client_secret, '…xW0p');
    assert.ok(get.body.updated_at);

    // At rest: ciphertext under the configured cipher, bound to this tenant, nowhere the plaintext.
    const row = await ctx.app.db
      .selectFrom('firs_credentials')
      .selectAll()
      .where('tenant_id', '=', t.tenantId)
      .executeTakeFirstOrThrow();
    assert.ok(!JSON.stringify(row).includes(secret));
    assert.match(row.client_secret_enc, /^v1\.[0-9a-f]{8}\./);
    const context = `firs.client_secret:${t.tenantId}:${t.tenantId}`;
    assert.equal(ctx.app.cipher.decrypt(row.client_secret_enc, context), secret);
    const audit = await call(ctx.app, 'GET', `/v1/tenants/${t.tenantId}/audit-events`, { headers: t.owner });
    assert.ok(audit.text.includes('settings.firs_credentials_updated'));
    assert.ok(!audit.text.includes(secret));

    // A settings-only key and a member are refused.
    const settingsKey = await adminKey(ctx.app, t.tenantId, { scopes: ['settings'] });
    const refused = await call(ctx.app, 'GET', path, { headers: withKey(settingsKey.key) });
    assert.equal(refused.status, 403, refused.text);
    assert.equal(refused.body.code, 'insufficient_scope');
    const member = await addMember(ctx.app, t.tenantId, t.owner, 'member');
    assert.equal((await call(ctx.app, 'GET', path, { headers: member.session.auth })).status, 403);
  });

  it("another tenant's settings are a 404 for its keys and people; admins are not declared (403)", async () => {
    const a = await keyTenant(ctx.app);
    const b = await keyTenant(ctx.app);
    const key = await adminKey(ctx.app, b.tenantId, { scopes: ['settings', 'credentials'] });
    for (const suffix of ['business', 'firs-credentials']) {
      const path = `/v1/tenants/${a.tenantId}/settings/${suffix}`;
      assert.equal((await call(ctx.app, 'GET', path, { headers: withKey(key.key) })).status, 404);
      assert.equal((await call(ctx.app, 'GET', path, { headers: b.owner })).status, 404);
      assert.equal((await call(ctx.app, 'GET', path, { headers: asAdmin })).status, 403);
    }
  });
});
