/**
 * `?cursor=` is client input that ends up in SQL: whatever is sent, every list answers 200 (a cursor
 * we issued) or `422 validation_failed` on `query.cursor`, never a 500 — on every backend.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { pageQuery } from '../../lib/db/pagination.js';
import { allEndpoints } from '../../lib/endpoints.js';
import { tierRules } from '../../lib/vocabulary.js';
import { asAdmin, call } from '../support/client.js';
import { ownerSession } from '../support/fixtures.js';
import { forEachBackend } from '../support/harness.js';
import { adminKey, withKey } from '../support/keys.js';
import { errorPaths } from '../support/problems.js';

const ID = '3f1c2b7e-8d4a-4c1e-9b2f-6a5d4e3c2b1a';
const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** Cursors no list handed out: out-of-range, malformed and mistyped positions, and non-cursors. */
const CRAFTED: Record<string, string> = {
  'year 0 (1 BC: a 500 on PGlite before)': encode({ t: '0000-01-01T00:00:00.000Z', id: ID }),
  'year 1': encode({ t: '0001-01-01T00:00:00.000Z', id: ID }),
  'before the epoch': encode({ t: '1969-12-31T23:59:59.999Z', id: ID }),
  'extended year +275760': encode({ t: '+275760-09-13T00:00:00.000Z', id: ID }),
  'extended year -271821': encode({ t: '-271821-04-20T00:00:00.000Z', id: ID }),
  'year 10000': encode({ t: '+010000-01-01T00:00:00.000Z', id: ID }),
  'February 30th': encode({ t: '2024-02-30T00:00:00.000Z', id: ID }),
  'a time without milliseconds': encode({ t: '2024-02-03T00:00:00Z', id: ID }),
  'a time zone offset': encode({ t: '2024-02-03T00:00:00.000+14:00', id: ID }),
  'NaN as text': encode({ t: 'NaN', id: ID }),
  'Invalid Date': encode({ t: 'Invalid Date', id: ID }),
  'a number': encode({ t: 1e300, id: ID }),
  'null time': encode({ t: null, id: ID }),
  'not a uuid': encode({ t: '2024-02-03T00:00:00.000Z', id: 'not-a-uuid' }),
  'a uuid with a SQL tail': encode({ t: '2024-02-03T00:00:00.000Z', id: `${ID}'); drop table users;--` }),
  'a 32-digit hex id': encode({ t: '2024-02-03T00:00:00.000Z', id: ID.replaceAll('-', '') }),
  'an extra field': encode({ t: '2024-02-03T00:00:00.000Z', id: ID, tenant: ID }),
  'an array': encode(['2024-02-03T00:00:00.000Z', ID]),
  'JSON null': encode(null),
  'not base64url': '$$$',
  'base64 with padding and plus': `${Buffer.from('{"t":1}').toString('base64')}+==`,
  'not JSON': Buffer.from('not json').toString('base64url'),
  empty: '',
};

forEachBackend('crafted list cursors', (ctx) => {
  it('every list answers 422 on query.cursor for every crafted cursor, 200 for a cursor it issued', async () => {
    const { tenantId, session } = await ownerSession(ctx.app);
    // Lists only keys may read (contracts, vaults, webhooks) are read with a key carrying every scope.
    const partnerKey = await adminKey(ctx.app, tenantId, {
      tier: 'partner',
      scopes: [...tierRules.partner.scopes],
    });
    const lists = allEndpoints().filter(
      (endpoint) => endpoint.method === 'GET' && endpoint.query === pageQuery(),
    );
    assert.ok(lists.length >= 3, lists.map((endpoint) => endpoint.path).join(', '));
    for (const endpoint of lists) {
      const path = endpoint.path.replace('{tenantId}', tenantId);
      assert.ok(!/\{/.test(path), `${endpoint.path}: add its parameters to this test`);
      const auth =
        endpoint.auth !== 'none' && endpoint.auth.person
          ? session.auth
          : endpoint.auth !== 'none' && endpoint.auth.admin
            ? (asAdmin as Record<string, string>)
            : withKey(partnerKey.key);
      const first = await call(ctx.app, 'GET', `${path}?limit=1`, { headers: auth });
      assert.equal(first.status, 200, `${endpoint.path}: ${first.text}`);
      if (first.body.next_cursor) {
        const next = await call(
          ctx.app,
          'GET',
          `${path}?limit=1&cursor=${encodeURIComponent(first.body.next_cursor)}`,
          { headers: auth },
        );
        assert.equal(next.status, 200, `${endpoint.path}: an issued cursor works (${next.text})`);
      }
      for (const [what, cursor] of Object.entries(CRAFTED)) {
        const res = await call(ctx.app, 'GET', `${path}?cursor=${encodeURIComponent(cursor)}`, {
          headers: auth,
        });
        assert.equal(res.status, 422, `${endpoint.path}, ${what}: ${res.text}`);
        assert.equal(res.body.code, 'validation_failed', what);
        assert.deepEqual(errorPaths(res.body), ['query.cursor'], what);
      }
    }
  });
});
