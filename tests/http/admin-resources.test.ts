import assert from 'node:assert/strict';
import { it } from 'node:test';
import { asAdmin, call } from '../support/client.js';
import { forEachBackend } from '../support/harness.js';
import { adminKey, keyTenant, withKey } from '../support/keys.js';

forEachBackend('admin resources', (ctx) => {
  it('event routing: [] until saved; PUT replaces; private, loopback, link-local and metadata URLs → 422', async () => {
    const t = await keyTenant(ctx.app);
    const path = `/v1/tenants/${t.tenantId}/event-routing`;
    const empty = await call(ctx.app, 'GET', path, { headers: asAdmin });
    assert.deepEqual(empty.body, { routes: [], updated_at: null });
    const routes = [
      { event: 'invoice.*', url: 'https://93.184.216.34/invoices' },
      { event: 'contract.created', url: 'https://[2606:4700::1]/c', enabled: false },
    ];
    const put = await call(ctx.app, 'PUT', path, { headers: asAdmin, json: { routes } });
    assert.equal(put.status, 200, put.text);
    assert.deepEqual(put.body.routes, [{ ...routes[0], enabled: true }, routes[1]]);
    for (const url of [
      'https://10.0.0.1/x',
      'https://127.0.0.1/x',
      'https://169.254.169.254/latest/meta-data/',
      'https://[fd00:ec2::254]/',
      'https://100.100.100.200/',
      'https://metadata.google.internal/',
      'http://93.184.216.34/',
    ]) {
      const res = await call(ctx.app, 'PUT', path, {
        headers: asAdmin,
        json: { routes: [routes[0], { event: '*', url }] },
      });
      assert.equal(res.status, 422, `${url}: ${res.text}`);
      assert.equal(res.body.errors[0].path, 'routes.1.url');
    }
    const kept = await call(ctx.app, 'GET', path, { headers: asAdmin });
    assert.equal(kept.body.routes.length, 2, 'a refused PUT changes nothing');
    const owner = await call(ctx.app, 'GET', path, { headers: t.owner });
    assert.equal(owner.status, 403);
  });

  it('sandbox runs: named checks that follow the setup; runs are kept and listed newest first', async () => {
    const t = await keyTenant(ctx.app);
    const runs = `/v1/tenants/${t.tenantId}/sandbox/runs`;
    const first = await call(ctx.app, 'POST', runs, { headers: asAdmin });
    assert.equal(first.status, 201, first.text);
    assert.equal(first.body.ok, false);
    assert.deepEqual(
      first.body.checks.map((c: { name: string; ok: boolean }) => [c.name, c.ok]),
      [
        ['active_keys', false],
        ['business_settings_complete', false],
        ['firs_credentials_present', false],
        ['event_routes_pass_policy', false],
      ],
    );
    await adminKey(ctx.app, t.tenantId, { scopes: ['invoices'] });
    const settings = await call(ctx.app, 'PUT', `/v1/tenants/${t.tenantId}/settings/business`, {
      headers: t.owner,
      json: {
        legal_name: 'Adaeze Foods Limited',
        tin: '12345678-0001',
        email: 'accounts@adaeze.example',
        address: { line1: '12 Marina Road', city: 'Lagos', state: 'Lagos', country: 'NG' },
      },
    });
    assert.equal(settings.status, 200, settings.text);
    await call(ctx.app, 'PUT', `/v1/tenants/${t.tenantId}/settings/firs-credentials`, {
      headers: t.owner,
      json: { client_id: 'c', client_secret: 'secret-1234' },
    });
    await call(ctx.app, 'PUT', `/v1/tenants/${t.tenantId}/event-routing`, {
      headers: asAdmin,
      json: { routes: [{ event: '*', url: 'https://93.184.216.34/all' }] },
    });
    const second = await call(ctx.app, 'POST', runs, { headers: asAdmin });
    assert.equal(second.body.ok, true, second.text);
    const list = await call(ctx.app, 'GET', runs, { headers: asAdmin });
    assert.deepEqual(
      list.body.data.map((run: { id: string }) => run.id),
      [second.body.id, first.body.id],
    );
    // A route saved before the rule tightened (written directly) fails the check when the run re-applies it.
    await ctx.app.db
      .updateTable('event_routing')
      .set({ routes: JSON.stringify([{ event: '*', url: 'https://127.0.0.1/', enabled: true }]) as never })
      .where('tenant_id', '=', t.tenantId)
      .execute();
    const third = await call(ctx.app, 'POST', runs, { headers: asAdmin });
    const routeCheck = third.body.checks.find((c: { name: string }) => c.name === 'event_routes_pass_policy');
    assert.equal(routeCheck.ok, false);
    assert.match(routeCheck.detail, /loopback/);
  });

  it('FIRS dictionary: seeded categories for any valid credential; PUT by admins; a closed list of categories', async () => {
    const t = await keyTenant(ctx.app);
    const key = await adminKey(ctx.app, t.tenantId, { scopes: ['team'] });
    const seeded = await call(ctx.app, 'GET', '/v1/firs/dictionary/currencies', {
      headers: withKey(key.key),
    });
    assert.equal(seeded.status, 200, seeded.text);
    assert.equal(seeded.body.updated_at, null);
    assert.ok(seeded.body.entries.some((e: { code: string }) => e.code === 'NGN'));
    for (const category of ['tax-categories', 'invoice-types', 'payment-means']) {
      const res = await call(ctx.app, 'GET', `/v1/firs/dictionary/${category}`, { headers: t.owner });
      assert.equal(res.status, 200, res.text);
      assert.ok(res.body.entries.length >= 3);
    }
    assert.equal(
      (await call(ctx.app, 'GET', '/v1/firs/dictionary/colours', { headers: t.owner })).status,
      404,
    );
    assert.equal((await call(ctx.app, 'GET', '/v1/firs/dictionary/currencies')).status, 401);

    const entries = [
      { code: 'NGN', label: 'Naira' },
      { code: 'XOF', label: 'West African CFA franc' },
    ];
    const refused = await call(ctx.app, 'PUT', '/v1/firs/dictionary/currencies', {
      headers: t.owner,
      json: { entries },
    });
    assert.equal(refused.status, 403);
    const dup = await call(ctx.app, 'PUT', '/v1/firs/dictionary/currencies', {
      headers: asAdmin,
      json: { entries: [...entries, { code: 'NGN', label: 'again' }] },
    });
    assert.equal(dup.status, 422, dup.text);
    assert.equal(dup.body.errors[0].path, 'entries.2.code');
    const put = await call(ctx.app, 'PUT', '/v1/firs/dictionary/currencies', {
      headers: asAdmin,
      json: { entries },
    });
    assert.equal(put.status, 200, put.text);
    const read = await call(ctx.app, 'GET', '/v1/firs/dictionary/currencies', { headers: withKey(key.key) });
    assert.deepEqual(read.body.entries, entries);
    assert.ok(read.body.updated_at);
  });
});
