/**
 * The database handle under failures, on both production drivers (node-postgres, and Neon's Pool through
 * the local WebSocket proxy): a connection killed in the middle of a transaction, a statement past
 * `statement_timeout`, and one past the client-side read timeout. Each must surface as an error the HTTP
 * layer answers with 503 (never an 'error' event that ends the process), and the pool must keep serving.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import pg from 'pg';
import { type DatabaseHandle, openDatabase } from '../../lib/db/database.js';
import { isDatabaseUnavailable } from '../../lib/db/errors.js';
import { createScratchDatabase } from '../support/backends.js';
import { type NeonWsProxy, startNeonWsProxy } from '../support/neon-ws-proxy.js';

const { DATABASE_URL } = process.env;
/** Short bounds, so that a statement sleeping a few seconds crosses them. */
const timeouts = { connectMs: 3_000, statementMs: 300 };

for (const driver of ['pg', 'neon'] as const) {
  describe(`database failures [${driver}]`, {
    skip: DATABASE_URL ? false : 'DATABASE_URL is not set',
  }, () => {
    let scratch: Awaited<ReturnType<typeof createScratchDatabase>> | undefined;
    let proxy: NeonWsProxy | undefined;
    let handle: DatabaseHandle | undefined;
    let admin: pg.Client | undefined;

    before(async () => {
      scratch = await createScratchDatabase(DATABASE_URL as string);
      if (driver === 'neon') {
        proxy = await startNeonWsProxy();
        handle = await openDatabase({ kind: 'neon', url: scratch.url, wsProxy: proxy.url, timeouts });
      } else {
        handle = await openDatabase({ kind: 'pg', url: scratch.url, timeouts });
      }
      admin = new pg.Client({ connectionString: scratch.url });
      await admin.connect();
    });

    after(async () => {
      await admin?.end();
      await handle?.close();
      await proxy?.close();
      await scratch?.drop();
    });

    const db = () => {
      if (!handle) throw new Error('database not opened');
      return handle.db;
    };
    const backendPid = async (executor = db()) =>
      (await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(executor)).rows[0]?.pid;
    const stillServes = async () => {
      const { rows } = await sql<{ one: number }>`select 1 as one`.execute(db());
      assert.deepEqual(rows, [{ one: 1 }]);
    };

    it('a connection killed between two statements of a transaction is an unavailable error, not a crash', async () => {
      // Between the two statements no query is in flight, so the driver can only report the death
      // through an 'error' event on the checked-out client: unhandled, that event ends the process.
      await assert.rejects(
        db()
          .transaction()
          .execute(async (trx) => {
            const pid = await backendPid(trx);
            await admin?.query('select pg_terminate_backend($1)', [pid]);
            await sleep(200);
            await sql`select 1`.execute(trx);
          }),
        (error: unknown) => isDatabaseUnavailable(error),
      );
      await stillServes();
    });

    it('a statement past statement_timeout inside a transaction is cancelled by the server (57014)', async () => {
      let pid: number | undefined;
      await assert.rejects(
        db()
          .transaction()
          .execute(async (trx) => {
            pid = await backendPid(trx);
            await sql`select pg_sleep(5)`.execute(trx);
          }),
        (error: unknown) => (error as { code?: string }).code === '57014' && isDatabaseUnavailable(error),
      );
      // The server's own cancel leaves the connection in sync: the pool keeps it and reuses it.
      const pids = await Promise.all([backendPid(), backendPid()]);
      assert.ok(pid !== undefined && pids.includes(pid), 'the cancelled connection was kept');
    });

    it('a statement past the read timeout outside a transaction fails unavailable, and its connection is dropped', async () => {
      // Outside a transaction no statement_timeout is set, so only the client-side read timeout ends it.
      const sleeping = sql`select pg_sleep(3)`.execute(db());
      const outcome = assert.rejects(sleeping, (error: unknown) => isDatabaseUnavailable(error));
      await sleep(100);
      const { rows } = await (admin as pg.Client).query<{ pid: number }>(
        `select pid from pg_stat_activity where datname = current_database() and query = 'select pg_sleep(3)'`,
      );
      const pid = rows[0]?.pid;
      assert.ok(pid, 'the statement is running');
      await outcome;
      await stillServes();
      // The abandoned connection is closed rather than handed back busy to the pool.
      const reused = await Promise.all(Array.from({ length: 4 }, () => backendPid()));
      assert.ok(!reused.includes(pid), 'no later statement ran on the connection that timed out');
    });
  });
}
