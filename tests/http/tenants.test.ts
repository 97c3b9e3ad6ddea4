import assert from 'node:assert/strict';
import { it } from 'node:test';
import { asAdmin, call } from '../support/client.js';
import { uniqueEmail } from '../support/fixtures.js';
import { forEachBackend } from '../support/harness.js';

forEachBackend('tenants', (ctx) => {
  it('creates a tenant with a derived slug, the defaults and its owner, and audits it', async () => {
    const owner = { email: uniqueEmail('owner'), name: 'Ada Owner' };
    const res = await call(ctx.app, 'POST', '/v1/tenants', {
      headers: asAdmin,
      json: { name: 'Acme Ltd.', owner },
    });
    assert.equal(res.status, 201);
    const { tenant } = res.body;
    assert.equal(res.body.owner.email, owner.email);
    assert.match(res.body.owner.temporary_password, /^[A-Za-z0-9]{24}$/);
    assert.match(tenant.id, /^[0-9a-f-]{36}$/);
    assert.match(tenant.slug, /^acme-ltd(-[0-9a-f]{6})?$/);
    assert.equal(tenant.status, 'active');
    assert.equal(tenant.max_tier, 'public');
    const events = await ctx.app.db
      .selectFrom('audit_events')
      .selectAll()
      .where('tenant_id', '=', tenant.id)
      .execute();
    assert.deepEqual(events.map((event) => event.action).sort(), ['team.member_added', 'tenant.created']);
    assert.equal(events[0]?.actor_type, 'admin_key');
    assert.match(events[0]?.actor_id ?? '', /^admin_[0-9a-f]{12}$/);
  });

  it('refuses a slug that is taken with 409 and leaves nothing behind', async () => {
    const slug = `dup-${Date.now().toString(36)}`;
    const first = await call(ctx.app, 'POST', '/v1/tenants', {
      headers: asAdmin,
      json: { name: 'One', slug, owner: { email: uniqueEmail(), name: 'A' } },
    });
    assert.equal(first.status, 201);
    const before = await ctx.app.db
      .selectFrom('audit_events')
      .select(({ fn }) => fn.countAll<string>().as('n'))
      .executeTakeFirstOrThrow();
    const second = await call(ctx.app, 'POST', '/v1/tenants', {
      headers: asAdmin,
      json: { name: 'Two', slug, owner: { email: uniqueEmail(), name: 'B' } },
    });
    assert.equal(second.status, 409);
    assert.equal(second.body.code, 'conflict');
    const afterCount = await ctx.app.db
      .selectFrom('audit_events')
      .select(({ fn }) => fn.countAll<string>().as('n'))
      .executeTakeFirstOrThrow();
    assert.equal(Number(afterCount.n), Number(before.n));
  });

  it('validates the body with field paths', async () => {
    const res = await call(ctx.app, 'POST', '/v1/tenants', {
      headers: asAdmin,
      json: { name: '', max_tier: 'platinum', extra: 1 },
    });
    assert.equal(res.status, 422);
    assert.equal(res.body.code, 'validation_failed');
    const paths = res.body.errors.map((error: { path: string }) => error.path).sort();
    assert.ok(paths.includes('name'), JSON.stringify(paths));
    assert.ok(paths.includes('max_tier'), JSON.stringify(paths));
  });

  it('gets, patches (with audit of the change) and 404s unknown or malformed ids', async () => {
    const created = await call(ctx.app, 'POST', '/v1/tenants', {
      headers: asAdmin,
      json: { name: 'Patch Me', owner: { email: uniqueEmail(), name: 'C' } },
    });
    const id = created.body.tenant.id;
    const got = await call(ctx.app, 'GET', `/api/v1/tenants/${id}/`, { headers: asAdmin });
    assert.equal(got.status, 200);
    assert.equal(got.body.name, 'Patch Me');
    const patched = await call(ctx.app, 'PATCH', `/v1/tenants/${id}`, {
      headers: asAdmin,
      json: { status: 'suspended', max_tier: 'partner' },
    });
    assert.equal(patched.status, 200);
    assert.equal(patched.body.status, 'suspended');
    assert.equal(patched.body.max_tier, 'partner');
    const events = await ctx.app.db
      .selectFrom('audit_events')
      .selectAll()
      .where('tenant_id', '=', id)
      .orderBy('created_at', 'asc')
      .execute();
    assert.deepEqual(
      events.map((event) => event.action).filter((action) => action.startsWith('tenant.')),
      ['tenant.created', 'tenant.suspended'],
    );
    assert.deepEqual(events.find((event) => event.action === 'tenant.suspended')?.metadata, {
      changes: { status: { from: 'active', to: 'suspended' }, max_tier: { from: 'public', to: 'partner' } },
    });
    const missing = await call(ctx.app, 'GET', '/v1/tenants/00000000-0000-4000-8000-000000000000', {
      headers: asAdmin,
    });
    assert.equal(missing.status, 404);
    const malformed = await call(ctx.app, 'GET', '/v1/tenants/not-a-uuid', { headers: asAdmin });
    assert.equal(malformed.status, 404);
    const empty = await call(ctx.app, 'PATCH', `/v1/tenants/${id}`, { headers: asAdmin, json: {} });
    assert.equal(empty.status, 422);
  });

  it('lists tenants newest first with a working cursor', async () => {
    const names = ['Page A', 'Page B', 'Page C'].map((name) => `${name} ${Math.random()}`);
    for (const name of names) {
      await call(ctx.app, 'POST', '/v1/tenants', {
        headers: asAdmin,
        json: { name, owner: { email: uniqueEmail(), name: 'D' } },
      });
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = cursor ? `?limit=2&cursor=${cursor}` : '?limit=2';
      const res = await call(ctx.app, 'GET', `/v1/tenants${query}`, { headers: asAdmin });
      assert.equal(res.status, 200);
      assert.ok(res.body.data.length <= 2);
      seen.push(...res.body.data.map((tenant: { name: string }) => tenant.name));
      cursor = res.body.next_cursor;
      pages += 1;
    } while (cursor && pages < 50);
    assert.equal(new Set(seen).size, seen.length, 'no tenant appears twice');
    const positions = names.map((name) => seen.indexOf(name));
    assert.ok(positions.every((position) => position >= 0));
    assert.deepEqual(
      [...positions].sort((a, b) => b - a),
      positions,
      'newest first',
    );
    const bad = await call(ctx.app, 'GET', '/v1/tenants?cursor=garbage', { headers: asAdmin });
    assert.equal(bad.status, 422);
    const tooMany = await call(ctx.app, 'GET', '/v1/tenants?limit=101', { headers: asAdmin });
    assert.equal(tooMany.status, 422);
  });
});
