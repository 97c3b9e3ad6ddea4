import { attachDatabasePool } from '@vercel/functions';
import { Kysely, PostgresDialect } from 'kysely';
import type pg from 'pg';
import type { Config } from '../config.js';
import type { Database } from './tables.js';

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
      const pool = new pg.Pool({ connectionString: config.url, max: 10 });
      return poolHandle('pg', pool);
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
      const pool = new NeonPool({ connectionString: config.url, max: 10 });
      return poolHandle('neon', pool);
    }
  }
}

/** node-postgres and Neon's Pool share one interface, so one Kysely dialect serves both. */
interface QueryPool {
  query(text: string): Promise<unknown>;
  end(): Promise<void>;
  readonly ended: boolean;
  on(event: 'error', listener: (error: Error) => void): unknown;
}

function poolHandle(kind: 'pg' | 'neon', pool: QueryPool): DatabaseHandle {
  // An idle pooled connection that the server or network cuts (Neon suspending an idle compute, a
  // proxy restart) makes the pool emit 'error'; with no listener that crashes the whole process. The
  // pool has already discarded that client and the next query opens a fresh one, so nothing to do.
  pool.on('error', () => {});
  // Vercel's guidance for Fluid compute: keep the instance alive until idle connections are closed,
  // instead of leaking them when the instance is suspended. A no-op outside Vercel's runtime.
  attachDatabasePool(pool as pg.Pool);
  // Both pools satisfy PostgresDialect's structural PostgresPool contract.
  const db: Db = new Kysely<Database>({
    dialect: new PostgresDialect({ pool: pool as unknown as pg.Pool }),
  });
  return {
    kind,
    db,
    // A query without parameters uses Postgres's simple protocol, which accepts several statements.
    exec: async (script) => {
      await pool.query(script);
    },
    // Kysely ends the pool only if it ever used it; `exec` alone does not, and an open client keeps
    // a script (db:migrate) alive until the pool's idle timeout.
    close: async () => {
      await db.destroy();
      if (!pool.ended) await pool.end();
    },
  };
}
