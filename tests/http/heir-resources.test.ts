import assert from 'node:assert/strict';
import { it } from 'node:test';
import { verifyAccessToken } from '../../lib/identity/access-token.js';
import { verifyEmbedToken } from '../../lib/resources/embed-token.js';
import { call } from '../support/client.js';
import { testClock } from '../support/clock.js';
import { forEachBackend } from '../support/harness.js';
import { adminKey, keyTenant, withKey } from '../support/keys.js';

const clock = testClock();
const contract = {
  title: 'Supply agreement',
  template: 'supply-v1',
  parties: [
    { name: 'Adaeze Foods', role: 'supplier' },
    { name: 'Kola Retail', email: 'legal@kola.example' },
  ],
};

forEachBackend(
  'HEIR resources',
  (ctx) => {
    async function tenantWith(scopes: string[], tier = 'partner') {
      const t = await keyTenant(ctx.app);
      const key = await adminKey(ctx.app, t.tenantId, { tier, scopes });
      return { ...t, headers: withKey(key.key), keyId: key.id };
    }

    it('contracts: create (with its vault), list newest first with cursors, get; vaults list and get', async () => {
      const t = await tenantWith(['contracts', 'vaults']);
      const ids: string[] = [];
      for (let i = 0; i < 3; i += 1) {
        clock.advance(1000);
        const res = await call(ctx.app, 'POST', '/v1/contracts', {
          headers: t.headers,
          json: { ...contract, title: `Agreement ${i}` },
        });
        assert.equal(res.status, 201, res.text);
        assert.equal(res.body.status, 'draft');
        assert.ok(res.body.vault_id);
        ids.push(res.body.id);
      }
      const first = await call(ctx.app, 'GET', '/v1/contracts?limit=2', { headers: t.headers });
      assert.equal(first.status, 200, first.text);
      assert.deepEqual(
        first.body.data.map((c: { id: string }) => c.id),
        [ids[2], ids[1]],
      );
      const rest = await call(ctx.app, 'GET', `/v1/contracts?limit=2&cursor=${first.body.next_cursor}`, {
        headers: t.headers,
      });
      assert.deepEqual(
        rest.body.data.map((c: { id: string }) => c.id),
        [ids[0]],
      );
      assert.equal(rest.body.next_cursor, null);
      const one = await call(ctx.app, 'GET', `/v1/contracts/${ids[0]}`, { headers: t.headers });
      assert.equal(one.status, 200, one.text);
      assert.deepEqual(one.body.parties, contract.parties);

      const vaults = await call(ctx.app, 'GET', '/v1/vaults', { headers: t.headers });
      assert.equal(vaults.body.data.length, 3);
      const vault = await call(ctx.app, 'GET', `/v1/vaults/${one.body.vault_id}`, { headers: t.headers });
      assert.equal(vault.status, 200, vault.text);
      assert.equal(vault.body.contract_id, ids[0]);

      const other = await tenantWith(['contracts', 'vaults']);
      assert.equal(
        (await call(ctx.app, 'GET', `/v1/contracts/${ids[0]}`, { headers: other.headers })).status,
        404,
      );
      assert.equal(
        (await call(ctx.app, 'GET', `/v1/vaults/${one.body.vault_id}`, { headers: other.headers })).status,
        404,
      );
      assert.equal(
        (await call(ctx.app, 'GET', '/v1/contracts', { headers: other.headers })).body.data.length,
        0,
      );
      const bad = await call(ctx.app, 'POST', '/v1/contracts', {
        headers: t.headers,
        json: { ...contract, parties: [] },
      });
      assert.equal(bad.status, 422, bad.text);
    });

    it('webhooks: https only, the SSRF rule at save time, the secret shown once and stored encrypted', async () => {
      const t = await tenantWith(['webhooks']);
      const res = await call(ctx.app, 'POST', '/v1/webhooks', {
        headers: t.headers,
        json: { url: 'https://93.184.216.34/hooks/heir', events: ['invoice.*', 'contract.created'] },
      });
      assert.equal(res.status, 201, res.text);
      assert.match(res.body.secret, /^whsec_[\w-]{43}$/);
      const row = await ctx.app.db
        .selectFrom('webhook_subscriptions')
        .selectAll()
        .where('id', '=', res.body.id)
        .executeTakeFirstOrThrow();
      assert.ok(!row.secret_enc.includes(res.body.secret.slice(6)));
      assert.equal(
        ctx.app.cipher.decrypt(row.secret_enc, `webhook.secret:${t.tenantId}:${res.body.id}`),
        res.body.secret,
      );
      const list = await call(ctx.app, 'GET', '/v1/webhooks', { headers: t.headers });
      assert.equal(list.body.data.length, 1);
      assert.equal(list.body.data[0].secret, undefined);
      assert.ok(!list.text.includes('whsec_'));

      for (const url of [
        'http://93.184.216.34/hook',
        'https://127.0.0.1/hook',
        'https://169.254.169.254/latest/meta-data/',
        'https://[::1]/hook',
        'https://localhost/hook',
        'https://10.0.0.8/hook',
      ]) {
        const refused = await call(ctx.app, 'POST', '/v1/webhooks', {
          headers: t.headers,
          json: { url, events: ['*'] },
        });
        assert.equal(refused.status, 422, `${url}: ${refused.text}`);
        assert.equal(refused.body.errors[0].path, 'url');
      }
      const badEvent = await call(ctx.app, 'POST', '/v1/webhooks', {
        headers: t.headers,
        json: { url: 'https://93.184.216.34/h', events: ['nothing.here'] },
      });
      assert.equal(badEvent.status, 422);

      const other = await tenantWith(['webhooks']);
      assert.equal(
        (await call(ctx.app, 'DELETE', `/v1/webhooks/${res.body.id}`, { headers: other.headers })).status,
        404,
      );
      const del = await call(ctx.app, 'DELETE', `/v1/webhooks/${res.body.id}`, { headers: t.headers });
      assert.equal(del.status, 204, del.text);
      assert.equal(
        (await call(ctx.app, 'DELETE', `/v1/webhooks/${res.body.id}`, { headers: t.headers })).status,
        404,
      );
      const audit = await call(ctx.app, 'GET', `/v1/tenants/${t.tenantId}/audit-events`, {
        headers: t.owner,
      });
      const actions = audit.body.data.map((e: { action: string }) => e.action);
      assert.ok(actions.includes('webhook.created') && actions.includes('webhook.deleted'));
      assert.ok(!audit.text.includes('whsec_'));
    });

    it('webhooks and embed sessions: a public key cannot carry the scope, so it is refused with insufficient_scope', async () => {
      const t = await tenantWith(
        ['contracts', 'vaults', 'invoices', 'settings', 'team', 'credentials'],
        'public',
      );
      for (const [method, path] of [
        ['POST', '/v1/webhooks'],
        ['GET', '/v1/webhooks'],
        ['POST', '/v1/embed/sessions'],
      ] as const) {
        const res = await call(ctx.app, method, path, {
          headers: t.headers,
          ...(method === 'POST' ? { json: {} } : {}),
        });
        assert.equal(res.status, 403, res.text);
        assert.equal(res.body.code, 'insufficient_scope');
      }
    });

    it('embed sessions: a 10-minute token for the embed audience that is refused as an access token', async () => {
      const t = await tenantWith(['embed']);
      const res = await call(ctx.app, 'POST', '/v1/embed/sessions', { headers: t.headers });
      assert.equal(res.status, 201, res.text);
      const now = clock.now();
      const payload = JSON.parse(Buffer.from(res.body.token.split('.')[1], 'base64url').toString());
      assert.equal(payload.exp - payload.iat, 600);
      assert.equal(Date.parse(res.body.expires_at), payload.exp * 1000);
      assert.ok(payload.iat * 1000 <= now.getTime());
      assert.deepEqual(await verifyEmbedToken(ctx.app.tokens, res.body.token, now), {
        tenantId: t.tenantId,
        keyId: t.keyId,
      });
      await assert.rejects(verifyAccessToken(ctx.app.tokens, res.body.token, now), { code: 'invalid_token' });
      const asAccess = await call(ctx.app, 'GET', '/v1/auth/me', {
        headers: { authorization: `Bearer ${res.body.token}` },
      });
      assert.equal(asAccess.status, 401, asAccess.text);
      assert.equal(asAccess.body.code, 'invalid_token');
      const onTenant = await call(ctx.app, 'GET', `/v1/tenants/${t.tenantId}`, {
        headers: { authorization: `Bearer ${res.body.token}` },
      });
      assert.equal(onTenant.status, 401);
      // An access token is not an embed token either.
      const access = t.owner.authorization?.slice('Bearer '.length) ?? '';
      await assert.rejects(verifyEmbedToken(ctx.app.tokens, access, now));
      clock.advance(601_000);
      await assert.rejects(verifyEmbedToken(ctx.app.tokens, res.body.token, clock.now()), /expired/);
      const extra = await call(ctx.app, 'POST', '/v1/embed/sessions', {
        headers: t.headers,
        json: { tenant_id: 'x' },
      });
      assert.equal(extra.status, 422);
    });
  },
  { options: { now: clock.now } },
);
