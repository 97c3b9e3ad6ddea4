import { readdir, readFile } from 'node:fs/promises';
import { type Kysely, type Migration, type MigrationProvider, Migrator, sql } from 'kysely';
import type { DatabaseHandle } from './database.js';

/**
 * Schema changes are ordered SQL files in migrations/ (`0001_initial.sql`, `0002_api_keys.sql` …),
 * each applied once, in name order, and recorded in Kysely's ledger table `kysely_migration`.
 * Kysely's Migrator runs them in one transaction under a Postgres advisory lock, so two builds or
 * test files racing on one database queue instead of colliding. schema.sql stays the readable whole;
 * tests/http/migrations.test.ts fails when applying every migration does not give what it gives.
 */
export const migrationsFolder = new URL('../../migrations/', import.meta.url);
export const schemaFile = new URL('../../schema.sql', import.meta.url);

const MIGRATION_FILE = /^\d{4}_[a-z0-9_]+\.sql$/;

/** Runs one migration's script inside the Migrator's transaction. */
type ScriptRunner = (trx: Kysely<unknown>, script: string) => Promise<void>;

function folderProvider(run: ScriptRunner): MigrationProvider {
  return {
    async getMigrations() {
      const migrations: Record<string, Migration> = {};
      for (const file of (await readdir(migrationsFolder)).sort()) {
        if (!MIGRATION_FILE.test(file)) {
          throw new Error(`migrations/${file}: migration files are named NNNN_snake_case.sql`);
        }
        const script = await readFile(new URL(file, migrationsFolder), 'utf8');
        migrations[file.replace(/\.sql$/, '')] = { up: (trx) => run(trx, script) };
      }
      return migrations;
    },
  };
}

export interface MigrationReport {
  /** Migrations applied by this call, in order (empty when the database was up to date). */
  readonly applied: readonly string[];
  /** Every migration the folder holds. */
  readonly total: number;
}

/** Brings the database to the latest migration; a no-op when it is there already. */
export async function migrate(handle: DatabaseHandle): Promise<MigrationReport> {
  const run: ScriptRunner =
    handle.kind === 'pglite'
      ? // PGlite's query() speaks the extended protocol (one statement per call); its exec() takes a
        // script and, PGlite being a single session, runs inside the Migrator's open transaction.
        (_trx, script) => handle.exec(script)
      : // Without parameters node-postgres and Neon use the simple protocol, which takes a script.
        async (trx, script) => {
          await sql.raw(script).execute(trx);
        };
  const provider = folderProvider(run);
  const migrator = new Migrator({ db: handle.db, provider });
  const { error, results = [] } = await migrator.migrateToLatest();
  if (error) {
    const failed = results.find((result) => result.status === 'Error');
    throw new Error(`migration ${failed?.migrationName ?? '(ledger)'} failed: ${String(error)}`, {
      cause: error,
    });
  }
  return {
    applied: results.filter((result) => result.status === 'Success').map((result) => result.migrationName),
    total: Object.keys(await provider.getMigrations()).length,
  };
}
