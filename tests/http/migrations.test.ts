/**
 * Migrations and schema.sql must describe the same database: applying every file in migrations/ to
 * an empty database gives exactly the columns, indexes and constraints that schema.sql alone gives.
 * A schema change therefore edits schema.sql AND adds a migration, or this fails naming the
 * difference. Also: the ledger applies each migration once, and a database created by the old
 * "apply schema.sql" path adopts the ledger without change. On PGlite always, on Postgres with
 * DATABASE_URL.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { type DatabaseHandle, type Db, openDatabase } from '../../lib/db/database.js';
import { migrate, migrationsFolder, schemaFile } from '../../lib/db/migrate.js';
import { createScratchDatabase, emptyDatabaseBackends } from '../support/backends.js';

const { DATABASE_URL } = process.env;

/** The parts of the catalog a migration can change, as sorted lines (the ledger's own tables aside). */
async function catalog(db: Db): Promise<string[]> {
  const columns = await sql<{ line: string }>`
    select format('column %s.%s %s%s null=%s default=%s', table_name, column_name, data_type,
      coalesce('(' || character_maximum_length || ')', ''), is_nullable, coalesce(column_default, '-')) as line
    from information_schema.columns
    where table_schema = 'public' and table_name not like 'kysely\\_%'`.execute(db);
  const indexes = await sql<{ line: string }>`
    select format('index %s', indexdef) as line from pg_indexes
    where schemaname = 'public' and tablename not like 'kysely\\_%'`.execute(db);
  const constraints = await sql<{ line: string }>`
    select format('constraint %s on %s: %s', c.conname, t.relname, pg_get_constraintdef(c.oid)) as line
    from pg_constraint c join pg_class t on t.oid = c.conrelid
    join pg_namespace n on n.oid = t.relnamespace
    where n.nspname = 'public' and t.relname not like 'kysely\\_%'`.execute(db);
  const triggers = await sql<{ line: string }>`
    select format('trigger %s on %s: %s %s', trigger_name, event_object_table, action_timing,
      event_manipulation) as line
    from information_schema.triggers where trigger_schema = 'public'`.execute(db);
  return [...columns.rows, ...indexes.rows, ...constraints.rows, ...triggers.rows]
    .map((row) => row.line)
    .sort();
}

async function ledger(db: Db): Promise<string[]> {
  const { rows } = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(db);
  return rows.map((row) => row.name);
}

const backends = emptyDatabaseBackends();

for (const backend of backends) {
  describe(`migrations [${backend.name}]`, () => {
    const opened: Array<{ handle: DatabaseHandle; dispose(): Promise<void> }> = [];
    let fromMigrations: DatabaseHandle;
    let fromSchema: DatabaseHandle;
    let files: string[];

    before(async () => {
      opened.push(await backend.open(), await backend.open());
      [fromMigrations, fromSchema] = opened.map((o) => o.handle) as [DatabaseHandle, DatabaseHandle];
      files = (await readdir(migrationsFolder)).filter((file) => file.endsWith('.sql')).sort();
      await fromSchema.exec(await readFile(schemaFile, 'utf8'));
    });
    after(async () => {
      await Promise.all(opened.map((o) => o.dispose()));
    });

    it('applies every migration, in order, to an empty database and records each in the ledger', async () => {
      const report = await migrate(fromMigrations);
      const names = files.map((file) => file.replace(/\.sql$/, ''));
      assert.deepEqual(report.applied, names);
      assert.equal(report.total, names.length);
      assert.deepEqual(await ledger(fromMigrations.db), names);
    });

    it('gives the same columns, indexes and constraints as schema.sql alone', async () => {
      const expected = await catalog(fromSchema.db);
      const actual = await catalog(fromMigrations.db);
      assert.ok(
        expected.some((line) => line.startsWith('index ')),
        'schema.sql creates indexes',
      );
      const missing = expected.filter((line) => !actual.includes(line));
      const extra = actual.filter((line) => !expected.includes(line));
      assert.deepEqual(
        { missing, extra },
        { missing: [], extra: [] },
        'schema.sql and migrations/ differ: edit both (missing = only in schema.sql, extra = only in migrations)',
      );
    });

    it('applies nothing the second time', async () => {
      const before = await catalog(fromMigrations.db);
      const report = await migrate(fromMigrations);
      assert.deepEqual(report.applied, []);
      assert.deepEqual(await catalog(fromMigrations.db), before);
    });

    it('adopts a database created by applying schema.sql: the ledger fills, the schema stays', async () => {
      const before = await catalog(fromSchema.db);
      const report = await migrate(fromSchema);
      assert.ok(report.applied.includes('0001_initial'));
      assert.deepEqual(await catalog(fromSchema.db), before);
      assert.deepEqual(
        await ledger(fromSchema.db),
        files.map((file) => file.replace(/\.sql$/, '')),
      );
    });
  });
}

describe('concurrent migrations [postgres]', {
  skip: DATABASE_URL ? false : 'DATABASE_URL is not set',
}, () => {
  it('lets eight migrators race on one fresh database: each migration applied exactly once', async () => {
    const scratch = await createScratchDatabase(DATABASE_URL as string);
    const handles: DatabaseHandle[] = [];
    try {
      for (let i = 0; i < 8; i += 1) handles.push(await openDatabase({ kind: 'pg', url: scratch.url }));
      const reports = await Promise.all(handles.map((handle) => migrate(handle)));
      const applied = reports.flatMap((report) => report.applied);
      assert.deepEqual([...applied].sort(), [...new Set(applied)].sort(), 'no migration ran twice');
      assert.equal(applied.length, reports[0]?.total);
    } finally {
      await Promise.all(handles.map((handle) => handle.close()));
      await scratch.drop();
    }
  });
});
