import {
  CompiledQuery,
  type DatabaseConnection,
  type Driver,
  Kysely,
  PostgresDialect,
  PostgresDriver,
  type PostgresPool,
  type PostgresPoolClient,
  type TransactionSettings,
} from 'kysely';
import type pg from 'pg';
import type { Config } from '../config.js';
import { DatabaseUnavailableError } from './errors.js';
import type { Database } from './tables.js';
import {
  type DatabaseTimeouts,
  DEFAULT_DATABASE_TIMEOUTS,
  IDLE_IN_TRANSACTION_TIMEOUT_MS,
  READ_TIMEOUT_MARGIN_MS,
  SCRIPT_TIMEOUT_MS,
} from './timeouts.js';

export type Db = Kysely<Database>;

/** A database handle: Kysely for queries, `exec` for multi-statement scripts (migrations). */
export interface DatabaseHandle {
  readonly kind: Config['database']['kind'];
  readonly db: Db;
  exec(script: string): Promise<void>;
  close(): Promise<void>;
}

export async function openDatabase(config: Config['database']): Promise<DatabaseHandle> {
  switch (config.kind) {
    case 'pglite': {
      // Loaded only in embedded mode: Vercel functions never import PGlite (17 MB, excluded from
      // their bundles in vercel.json), so a cold start does not pay for it.
      const { PGlite } = await import('@electric-sql/pglite');
      const { PGliteDialect } = await import('kysely-pglite-dialect');
      const pglite = config.dataDir ? new PGlite(config.dataDir) : new PGlite();
      await pglite.waitReady;
      const db: Db = new Kysely<Database>({ dialect: new PGliteDialect(pglite) });
      return {
        kind: 'pglite',
        db,
        exec: async (script) => {
          await pglite.exec(script);
        },
        close: () => db.destroy(),
      };
    }
    // Each driver is imported only in the mode that uses it: a cold start on Neon loads neither
    // node-postgres nor PGlite.
    case 'pg': {
      const { default: pg } = await import('pg');
      const timeouts = config.timeouts ?? DEFAULT_DATABASE_TIMEOUTS;
      const pool = new pg.Pool({ connectionString: config.url, ...poolOptions(timeouts) });
      return poolHandle('pg', pool, timeouts);
    }
    case 'neon': {
      const { Pool: NeonPool, neonConfig } = await import('@neondatabase/serverless');
      const { default: ws } = await import('ws');
      // Node 20 has no global WebSocket; Vercel's Node 24 does, but `ws` works on both.
      neonConfig.webSocketConstructor = ws;
      if (config.wsProxy) {
        // Tests reach a local Postgres through a WebSocket-to-TCP proxy, without TLS.
        const proxy = config.wsProxy;
        neonConfig.wsProxy = (host, port) => `${proxy}?address=${host}:${port}`;
        neonConfig.useSecureWebSocket = false;
        neonConfig.pipelineConnect = false;
        neonConfig.pipelineTLS = false;
      }
      const timeouts = config.timeouts ?? DEFAULT_DATABASE_TIMEOUTS;
      const pool = new NeonPool({ connectionString: config.url, ...poolOptions(timeouts) });
      return poolHandle('neon', pool as unknown as QueryPool, timeouts);
    }
  }
}

/**
 * Client-side bounds, the same for node-postgres and Neon's Pool (which embeds node-postgres' Client).
 * `statement_timeout` is deliberately NOT sent as a startup parameter: PgBouncer (Neon's `-pooler`
 * endpoints, most managed poolers) refuses the connection over it and Neon's proxy drops it, so it is
 * set with SET LOCAL when a transaction begins instead (see BoundedPostgresDriver).
 */
function poolOptions(timeouts: DatabaseTimeouts) {
  return {
    max: 10,
    // Bounds both the wait for a free slot and opening a new connection.
    connectionTimeoutMillis: timeouts.connectMs,
    // pg's client-side read timeout: the only bound that holds when the server is frozen or unreachable.
    query_timeout: timeouts.statementMs + READ_TIMEOUT_MARGIN_MS,
    // Lets the OS notice a peer that vanished without a FIN on idle pooled connections.
    keepAlive: true,
  };
}

/** What this module needs of node-postgres' Pool and Neon's Pool (Neon's is a fork of pg-pool). */
interface QueryPool {
  connect(): Promise<QueryPoolClient>;
  query(config: { text: string; query_timeout?: number }): Promise<unknown>;
  end(): Promise<void>;
  readonly ended: boolean;
  on(event: 'error', listener: (error: Error) => void): unknown;
}

interface QueryPoolClient {
  query(text: string, values: unknown[]): Promise<unknown>;
  release(error?: Error | boolean): void;
  on(event: 'error', listener: (error: Error) => void): unknown;
  removeListener(event: 'error', listener: (error: Error) => void): unknown;
}

async function poolHandle(
  kind: 'pg' | 'neon',
  pool: QueryPool,
  timeouts: DatabaseTimeouts,
): Promise<DatabaseHandle> {
  // An idle pooled connection that the server or network cuts (Neon suspending an idle compute, a
  // proxy restart) makes the pool emit 'error'; with no listener that crashes the whole process. The
  // pool has already discarded that client and the next query opens a fresh one, so nothing to do.
  pool.on('error', () => {});
  // Vercel's guidance for Fluid compute: keep the instance alive until idle connections are closed,
  // instead of leaking them when the instance is suspended. A no-op outside Vercel's runtime. Loaded
  // with the driver, not at cold start: only the Postgres modes have a pool.
  const { attachDatabasePool } = await import('@vercel/functions');
  attachDatabasePool(pool as unknown as pg.Pool);
  const db: Db = new Kysely<Database>({
    dialect: new BoundedPostgresDialect(guardedPool(pool), transactionSettings(timeouts)),
  });
  return {
    kind,
    db,
    // A query without parameters uses Postgres's simple protocol, which accepts several statements.
    // Migrations may wait on their lock or build indexes, so they get a long bound of their own.
    exec: async (script) => {
      await pool.query({ text: script, query_timeout: SCRIPT_TIMEOUT_MS });
    },
    // Kysely ends the pool only if it ever used it; `exec` alone does not, and an open client keeps
    // a script (db:migrate) alive until the pool's idle timeout.
    close: async () => {
      await db.destroy();
      if (!pool.ended) await pool.end();
    },
  };
}

/** Server-side bounds for the statements of one transaction; SET LOCAL ends with the transaction. */
function transactionSettings(timeouts: DatabaseTimeouts): string {
  const ms = (value: number) => String(Math.trunc(value));
  return [
    `SET LOCAL statement_timeout = ${ms(timeouts.statementMs)}`,
    `SET LOCAL idle_in_transaction_session_timeout = ${ms(IDLE_IN_TRANSACTION_TIMEOUT_MS)}`,
  ].join('; ');
}

/**
 * Kysely's pool interface over a pg-compatible pool, with two guarantees the pool alone lacks:
 *
 * - A checked-out client always has an 'error' listener. node-postgres emits 'error' on a client whose
 *   connection dies (a server killed with `-m immediate`, a cut WebSocket); pg-pool listens only while
 *   the client sits idle in the pool, so a death during a transaction was an unhandled 'error' event,
 *   which ends the process. The query in flight is rejected by the driver anyway; the listener only
 *   records that the connection is gone.
 * - A connection whose state is unknown is never reused. After a client-side timeout or a lost socket the
 *   server may still be running our statement; the next statement (the ROLLBACK, or another request's
 *   query) would queue behind it. Such a client fails fast and is destroyed on release. An ERROR the
 *   server sent (a constraint, a statement_timeout) leaves the connection in sync, and it is kept.
 */
function guardedPool(pool: QueryPool): PostgresPool {
  return {
    async connect() {
      return guardClient(await pool.connect());
    },
    end: () => pool.end(),
  };
}

function guardClient(client: QueryPoolClient): PostgresPoolClient {
  let broken: Error | null = null;
  const onError = (error: Error) => {
    broken ??= error;
  };
  client.on('error', onError);
  const guarded = {
    async query(text: string, parameters: ReadonlyArray<unknown>) {
      if (broken) throw new DatabaseUnavailableError('the database connection was lost', broken);
      try {
        return await client.query(text, [...parameters]);
      } catch (error) {
        if (!leavesConnectionUsable(error)) broken ??= asError(error);
        throw error;
      }
    },
    release(destroy?: boolean) {
      // The pool re-attaches its idle listener inside release(), before ours goes.
      client.release(broken ?? (destroy ? true : undefined));
      client.removeListener('error', onError);
    },
  };
  return guarded as unknown as PostgresPoolClient;
}

/** An ERROR-severity response from the server: the protocol is in sync and the session is fine. */
function leavesConnectionUsable(error: unknown): boolean {
  if (!error || typeof error !== 'object') return false;
  const { severity, code } = error as { severity?: unknown; code?: unknown };
  return severity === 'ERROR' && typeof code === 'string';
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/** PostgresDialect whose transactions begin with the server-side timeouts. */
class BoundedPostgresDialect extends PostgresDialect {
  readonly #pool: PostgresPool;
  readonly #settings: string;

  constructor(pool: PostgresPool, settings: string) {
    super({ pool });
    this.#pool = pool;
    this.#settings = settings;
  }

  override createDriver(): Driver {
    return new BoundedPostgresDriver(this.#pool, this.#settings);
  }
}

class BoundedPostgresDriver extends PostgresDriver {
  readonly #settings: string;

  constructor(pool: PostgresPool, settings: string) {
    super({ pool });
    this.#settings = settings;
  }

  /** The same BEGIN as Kysely's, with the SET LOCALs in the same simple-protocol message: no extra round trip. */
  override async beginTransaction(
    connection: DatabaseConnection,
    settings: TransactionSettings,
  ): Promise<void> {
    let begin = 'start transaction';
    if (settings.isolationLevel) begin += ` isolation level ${settings.isolationLevel}`;
    if (settings.accessMode) begin += ` ${settings.accessMode}`;
    await connection.executeQuery(CompiledQuery.raw(`${begin}; ${this.#settings}`));
  }
}
