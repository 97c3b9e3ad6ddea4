import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { it } from 'node:test';
import { call } from '../support/client.js';
import { forEachBackend } from '../support/harness.js';
import { adminKey, keyTenant, withKey } from '../support/keys.js';

const invoice = (number = `INV-${randomUUID().slice(0, 8)}`) => ({
  number,
  issue_date: '2026-11-01',
  currency: 'NGN',
  buyer: { name: 'Kola Retail' },
  lines: [
    { description: 'Bag of rice, 50 kg', quantity: 2, unit_price: 75000, tax_category: 'STANDARD_VAT' },
    { description: 'Delivery', quantity: 1, unit_price: 5000 },
  ],
});

forEachBackend('invoices', (ctx) => {
  async function invoiceKey() {
    const t = await keyTenant(ctx.app);
    const key = await adminKey(ctx.app, t.tenantId, { scopes: ['invoices'] });
    return { ...t, headers: withKey(key.key), keyId: key.id };
  }
  const count = async (tenantId: string) =>
    Number(
      (
        await ctx.app.db
          .selectFrom('invoices')
          .select((eb) => eb.fn.countAll<string>().as('n'))
          .where('tenant_id', '=', tenantId)
          .executeTakeFirstOrThrow()
      ).n,
    );

  it('POST answers 202 {id, status:"received"}; GET reads it back; both audited and tenant-scoped', async () => {
    const t = await invoiceKey();
    const body = invoice();
    const res = await call(ctx.app, 'POST', '/v1/invoices', { headers: t.headers, json: body });
    assert.equal(res.status, 202, res.text);
    assert.deepEqual(Object.keys(res.body).sort(), ['id', 'status']);
    assert.equal(res.body.status, 'received');
    const got = await call(ctx.app, 'GET', `/v1/invoices/${res.body.id}`, { headers: t.headers });
    assert.equal(got.status, 200, got.text);
    assert.deepEqual(got.body.invoice, body);
    assert.equal(got.body.status, 'received');

    const other = await invoiceKey();
    const theirs = await call(ctx.app, 'GET', `/v1/invoices/${res.body.id}`, { headers: other.headers });
    assert.equal(theirs.status, 404, theirs.text);
    const audit = await call(ctx.app, 'GET', `/v1/tenants/${t.tenantId}/audit-events`, { headers: t.owner });
    const event = audit.body.data.find((e: { action: string }) => e.action === 'invoice.received');
    assert.deepEqual(event.target, { type: 'invoice', id: res.body.id });
    assert.deepEqual(event.actor, { type: 'api_key', id: t.keyId });
  });

  it('validates the invoice: lines, currency, dates, unknown fields', async () => {
    const t = await invoiceKey();
    for (const [patch, path] of [
      [{ lines: [] }, 'lines'],
      [{ currency: 'naira' }, 'currency'],
      [{ issue_date: '2026-13-45' }, 'issue_date'],
      [{ total: 5 }, ''],
      [{ lines: [{ description: 'x', quantity: -1, unit_price: 1 }] }, 'lines.0.quantity'],
    ] as const) {
      const res = await call(ctx.app, 'POST', '/v1/invoices', {
        headers: t.headers,
        json: { ...invoice(), ...patch },
      });
      assert.equal(res.status, 422, res.text);
      assert.ok(
        res.body.errors.some((e: { path: string }) => e.path === path),
        `${path}: ${res.text}`,
      );
    }
    assert.equal(await count(t.tenantId), 0);
  });

  it('Idempotency-Key: same key and body → the same answer; another body → 422; keys are per tenant', async () => {
    const t = await invoiceKey();
    const body = invoice();
    const headers = { ...t.headers, 'idempotency-key': 'order-7781' };
    const first = await call(ctx.app, 'POST', '/v1/invoices', { headers, json: body });
    assert.equal(first.status, 202, first.text);
    assert.equal(first.headers.get('idempotent-replayed'), null);
    // The same body with its keys in another order is the same request.
    const reordered = Object.fromEntries(Object.entries(body).reverse());
    const again = await call(ctx.app, 'POST', '/v1/invoices', { headers, json: reordered });
    assert.equal(again.status, 202, again.text);
    assert.deepEqual(again.body, first.body);
    assert.equal(again.headers.get('idempotent-replayed'), 'true');

    const other = await call(ctx.app, 'POST', '/v1/invoices', { headers, json: invoice() });
    assert.equal(other.status, 422, other.text);
    assert.equal(other.body.errors[0].path, 'headers.idempotency-key');
    assert.equal(other.body.errors[0].code, 'idempotency_key_reused');
    assert.equal(await count(t.tenantId), 1);

    // Another tenant using the same key string gets its own invoice.
    const u = await invoiceKey();
    const theirs = await call(ctx.app, 'POST', '/v1/invoices', {
      headers: { ...u.headers, 'idempotency-key': 'order-7781' },
      json: body,
    });
    assert.equal(theirs.status, 202, theirs.text);
    assert.notEqual(theirs.body.id, first.body.id);

    // Without a key, every request is a new invoice.
    const plain = await call(ctx.app, 'POST', '/v1/invoices', { headers: t.headers, json: body });
    assert.notEqual(plain.body.id, first.body.id);

    const bad = await call(ctx.app, 'POST', '/v1/invoices', {
      headers: { ...t.headers, 'idempotency-key': 'x'.repeat(256) },
      json: body,
    });
    assert.equal(bad.status, 422, bad.text);
  });

  it('50 parallel identical requests with one Idempotency-Key → exactly one invoice, one id for all', async () => {
    const t = await invoiceKey();
    const body = invoice();
    const headers = { ...t.headers, 'idempotency-key': `burst-${randomUUID()}` };
    const results = await Promise.all(
      Array.from({ length: 50 }, () => call(ctx.app, 'POST', '/v1/invoices', { headers, json: body })),
    );
    for (const res of results) assert.equal(res.status, 202, res.text);
    assert.equal(new Set(results.map((res) => res.body.id)).size, 1);
    assert.equal(await count(t.tenantId), 1);
    const audited = await ctx.app.db
      .selectFrom('audit_events')
      .select('id')
      .where('tenant_id', '=', t.tenantId)
      .where('action', '=', 'invoice.received')
      .execute();
    assert.equal(audited.length, 1);
  });
});
