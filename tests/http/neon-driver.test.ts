/**
 * The production database path — Neon's serverless Pool speaking the Postgres protocol over a
 * WebSocket — exercised against the local Postgres through tests/support/neon-ws-proxy.ts, configured
 * exactly as start-up configures it (loadConfig → openDatabase → migrate).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import { WebSocket } from 'ws';
import { loadConfig } from '../../lib/config.js';
import { type DatabaseHandle, openDatabase } from '../../lib/db/database.js';
import { migrate } from '../../lib/db/migrate.js';
import { tables } from '../../lib/db/tables.js';
import { createScratchDatabase, TEST_ADMIN_KEY } from '../support/backends.js';
import { type NeonWsProxy, startNeonWsProxy } from '../support/neon-ws-proxy.js';

const { DATABASE_URL } = process.env;

/** Resolves with the HTTP status that refused the upgrade, or 'open' if the proxy accepted it. */
function upgradeOutcome(url: string): Promise<number | 'open'> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('open', () => {
      ws.terminate();
      resolve('open');
    });
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.once('error', (error) => reject(error));
  });
}

describe('neon ws proxy', () => {
  let proxy: NeonWsProxy;
  before(async () => {
    proxy = await startNeonWsProxy();
  });
  after(async () => {
    await proxy.close();
  });

  it('hands back host:port without a scheme, as neonConfig.wsProxy expects', () => {
    assert.match(proxy.url, /^127\.0\.0\.1:\d+$/);
  });

  it('refuses every target but 127.0.0.1/localhost:5432 (never an open relay)', async () => {
    const refusedQueries = [
      '',
      '?address=',
      '?address=127.0.0.1',
      '?address=127.0.0.1:6379',
      '?address=127.0.0.1:5433',
      '?address=127.0.0.1:05432',
      '?address=localhost:22',
      '?address=127.0.0.2:5432',
      '?address=10.0.0.1:5432',
      '?address=example.com:5432',
      '?address=localhost.example.com:5432',
      '?address=evil@127.0.0.1:5432',
      '?address=[::1]:5432',
      '?address=0.0.0.0:5432',
      '?address=127.0.0.1:5432&address=example.com:5432',
      '?address=127.0.0.1:5432:80',
    ];
    for (const query of refusedQueries) {
      assert.equal(await upgradeOutcome(`ws://${proxy.url}/${query}`), 403, `should refuse "${query}"`);
    }
    assert.equal(proxy.refused, refusedQueries.length);
    assert.equal(proxy.connectionsServed, 0);
  });
});

describe('neon driver through the ws proxy', {
  skip: DATABASE_URL ? false : 'DATABASE_URL is not set',
}, () => {
  let scratch: Awaited<ReturnType<typeof createScratchDatabase>> | undefined;
  let proxy: NeonWsProxy | undefined;
  let handle: DatabaseHandle | undefined;

  const db = () => {
    if (!handle) throw new Error('database not opened');
    return handle.db;
  };
  const newSlug = () => `neon-${randomBytes(6).toString('hex')}`;

  before(async () => {
    scratch = await createScratchDatabase(DATABASE_URL as string);
    proxy = await startNeonWsProxy();
    const config = loadConfig({
      DATABASE_URL: scratch.url,
      DATABASE_DRIVER: 'neon',
      NEON_WS_PROXY: proxy.url,
      ADMIN_KEY: TEST_ADMIN_KEY,
      LOG_LEVEL: 'silent',
    });
    assert.equal(config.database.kind, 'neon');
    handle = await openDatabase(config.database);
    assert.equal(handle.kind, 'neon');
  });

  after(async () => {
    await handle?.close();
    await proxy?.close();
    await scratch?.drop();
  });

  it('migrates, and migrating again is harmless', async () => {
    if (!handle) throw new Error('database not opened');
    await migrate(handle);
    await migrate(handle);
    const { rows } = await sql<{ table_name: string }>`
      select table_name from information_schema.tables
      where table_schema = 'public' and table_name not like 'kysely\_%' order by table_name`.execute(db());
    assert.deepEqual(
      rows.map((row) => row.table_name),
      Object.keys(tables).sort(),
    );
  });

  it('inserts and reads back a tenant, with timestamptz as Date and jsonb as objects', async () => {
    const createdAt = new Date('2024-02-29T23:59:58.123Z');
    const slug = newSlug();
    const inserted = await db()
      .insertInto('tenants')
      .values({ name: 'Neon Ltd', slug, created_at: createdAt })
      .returningAll()
      .executeTakeFirstOrThrow();
    assert.match(inserted.id, /^[0-9a-f-]{36}$/);
    assert.equal(inserted.status, 'active');
    assert.equal(inserted.max_tier, 'public');

    const read = await db()
      .selectFrom('tenants')
      .selectAll()
      .where('id', '=', inserted.id)
      .executeTakeFirstOrThrow();
    assert.equal(read.slug, slug);
    assert.ok(read.created_at instanceof Date, 'created_at comes back as a Date');
    assert.equal(read.created_at.getTime(), createdAt.getTime());
    assert.ok(read.updated_at instanceof Date, 'updated_at comes back as a Date');
    assert.ok(Math.abs(read.updated_at.getTime() - Date.now()) < 5 * 60_000, 'defaulted to now()');

    const metadata = {
      changes: { status: { from: 'active', to: 'suspended' } },
      list: [1, 'two', null, true, { nested: 2.5 }],
      text: 'ñ — "quoted" \\ back',
    };
    const event = await db()
      .insertInto('audit_events')
      .values({ tenant_id: inserted.id, action: 'tenant.tested', actor_type: 'system', metadata })
      .returning(['id'])
      .executeTakeFirstOrThrow();
    const stored = await db()
      .selectFrom('audit_events')
      .select(['metadata', 'created_at', sql<string>`jsonb_typeof(metadata)`.as('json_type')])
      .where('id', '=', event.id)
      .executeTakeFirstOrThrow();
    assert.deepEqual(stored.metadata, metadata);
    assert.equal(stored.json_type, 'object', 'stored as a jsonb object, not a string');
    assert.ok(stored.created_at instanceof Date);

    const defaulted = await db()
      .insertInto('audit_events')
      .values({ tenant_id: inserted.id, action: 'tenant.defaulted', actor_type: 'system' })
      .returning(['metadata'])
      .executeTakeFirstOrThrow();
    assert.deepEqual(defaulted.metadata, {});
  });

  it('rolls a failed transaction back completely', async () => {
    const slug = newSlug();
    await assert.rejects(
      db()
        .transaction()
        .execute(async (trx) => {
          const tenant = await trx
            .insertInto('tenants')
            .values({ name: 'Rolled Back', slug })
            .returning(['id'])
            .executeTakeFirstOrThrow();
          await trx
            .insertInto('audit_events')
            .values({ tenant_id: tenant.id, action: 'tenant.created', actor_type: 'system', actor_id: slug })
            .execute();
          throw new Error('abort after writing');
        }),
      /abort after writing/,
    );
    // A database error inside a transaction surfaces with its SQLSTATE and also rolls back.
    const taken = newSlug();
    await db().insertInto('tenants').values({ name: 'Taken', slug: taken }).execute();
    await assert.rejects(
      db()
        .transaction()
        .execute(async (trx) => {
          await trx
            .insertInto('audit_events')
            .values({ action: 'x', actor_type: 'system', actor_id: taken })
            .execute();
          await trx.insertInto('tenants').values({ name: 'Duplicate', slug: taken }).execute();
        }),
      (error: unknown) => (error as { code?: string }).code === '23505',
    );

    const tenants = await db().selectFrom('tenants').select('id').where('slug', '=', slug).execute();
    assert.equal(tenants.length, 0);
    const events = await db()
      .selectFrom('audit_events')
      .select('id')
      .where('actor_id', 'in', [slug, taken])
      .execute();
    assert.equal(events.length, 0);
  });

  it('runs concurrent queries on separate pooled connections', async () => {
    const query = () =>
      sql<{ pid: number; value: number }>`select pg_backend_pid() as pid, 42 as value from pg_sleep(0.2)`
        .execute(db())
        .then((result) => result.rows[0]);
    const [first, second] = await Promise.all([query(), query()]);
    assert.equal(first?.value, 42);
    assert.equal(second?.value, 42);
    assert.notEqual(first?.pid, second?.pid, 'two connections were open at once');
  });

  it('survives the server cutting idle pooled connections', async () => {
    assert.ok(proxy);
    await sql`select 1`.execute(db());
    // Without an 'error' listener on the pool, this would crash the process ("Connection terminated unexpectedly").
    proxy.dropConnections();
    await sleep(200);
    const served = proxy.connectionsServed;
    const { rows } = await sql<{ one: number }>`select 1 as one`.execute(db());
    assert.deepEqual(rows, [{ one: 1 }]);
    assert.ok(proxy.connectionsServed > served, 'a fresh connection was opened');
  });

  it('sent all of it through the proxy', () => {
    assert.ok(proxy);
    assert.ok(proxy.connectionsServed > 0, 'the proxy served the connections');
    assert.equal(proxy.refused, 0);
  });
});
