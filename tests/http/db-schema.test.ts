/**
 * schema.sql is the truth and lib/db/tables.ts mirrors it for Kysely. This compares the live database
 * (after migrate) with `tables` on every backend the environment provides, and checks that migrate is
 * idempotent and safe to run concurrently (the advisory lock).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { type DatabaseHandle, type Db, openDatabase } from '../../lib/db/database.js';
import { migrate } from '../../lib/db/migrate.js';
import { tables } from '../../lib/db/tables.js';
import {
  createScratchDatabase,
  type EmptyDatabaseBackend,
  emptyDatabaseBackends,
} from '../support/backends.js';

const { DATABASE_URL } = process.env;

/** tables.ts's shape, loosened so a test can also feed it a deliberately wrong copy. */
type TableSpecs = Record<string, Record<string, { type: string; nullable?: boolean; default?: boolean }>>;

/** information_schema.columns.data_type for each type name tables.ts uses. */
const DATA_TYPES: Record<string, string> = {
  timestamptz: 'timestamp with time zone',
  integer: 'integer',
  text: 'text',
  uuid: 'uuid',
  boolean: 'boolean',
  jsonb: 'jsonb',
  // Arrays are 'ARRAY' in data_type; udt_name says of what (`_text`).
  'text[]': 'ARRAY:_text',
};

interface LiveColumn {
  table_name: string;
  column_name: string;
  data_type: string;
  udt_name: string;
  is_nullable: 'YES' | 'NO';
  column_default: string | null;
}

async function liveColumns(db: Db): Promise<LiveColumn[]> {
  const { rows } = await sql<LiveColumn>`
    select c.table_name, c.column_name, c.data_type, c.udt_name, c.is_nullable, c.column_default
    from information_schema.columns c
    join information_schema.tables t on t.table_schema = c.table_schema and t.table_name = c.table_name
    where c.table_schema = 'public' and t.table_type = 'BASE TABLE'
      and c.table_name not like 'kysely\_%'
    order by c.table_name, c.ordinal_position`.execute(db);
  return rows;
}

/** Every difference between the live columns and the specs, each naming its table.column. */
function schemaDrift(live: readonly LiveColumn[], specs: TableSpecs): string[] {
  const drift: string[] = [];
  const liveTables = new Map<string, Map<string, LiveColumn>>();
  for (const column of live) {
    const columns = liveTables.get(column.table_name) ?? new Map<string, LiveColumn>();
    columns.set(column.column_name, column);
    liveTables.set(column.table_name, columns);
  }
  for (const table of liveTables.keys()) {
    if (!(table in specs)) drift.push(`${table}: table is in the database but not in tables.ts`);
  }
  for (const [table, columns] of Object.entries(specs)) {
    const liveTable = liveTables.get(table);
    if (!liveTable) {
      drift.push(`${table}: table is in tables.ts but not in the database`);
      continue;
    }
    for (const column of liveTable.keys()) {
      if (!(column in columns))
        drift.push(`${table}.${column}: column is in the database but not in tables.ts`);
    }
    for (const [column, spec] of Object.entries(columns)) {
      const actual = liveTable.get(column);
      if (!actual) {
        drift.push(`${table}.${column}: column is in tables.ts but not in the database`);
        continue;
      }
      const expectedType = DATA_TYPES[spec.type] ?? `(unmapped tables.ts type ${spec.type})`;
      const actualType = actual.data_type === 'ARRAY' ? `ARRAY:${actual.udt_name}` : actual.data_type;
      if (actualType !== expectedType) {
        drift.push(
          `${table}.${column}: type is '${actual.data_type}' in the database, '${spec.type}' in tables.ts`,
        );
      }
      const nullable = actual.is_nullable === 'YES';
      if (nullable !== (spec.nullable === true)) {
        drift.push(
          nullable
            ? `${table}.${column}: is nullable in the database but not in tables.ts`
            : `${table}.${column}: is NOT NULL in the database but nullable in tables.ts`,
        );
      }
      const hasDefault = actual.column_default !== null;
      if (hasDefault !== (spec.default === true)) {
        drift.push(
          hasDefault
            ? `${table}.${column}: has DEFAULT ${actual.column_default} in the database but no default: true in tables.ts`
            : `${table}.${column}: has default: true in tables.ts but no DEFAULT in the database`,
        );
      }
    }
  }
  return drift;
}

const backends = emptyDatabaseBackends();

for (const backend of backends) {
  describe(`db schema [${backend.name}]`, () => {
    let opened: Awaited<ReturnType<EmptyDatabaseBackend['open']>> | undefined;
    const handle = () => {
      if (!opened) throw new Error('database not opened');
      return opened.handle;
    };

    before(async () => {
      opened = await backend.open();
      await migrate(opened.handle);
    });
    after(async () => {
      await opened?.dispose();
    });

    it('matches lib/db/tables.ts: tables, columns, types, nullability and defaults', async () => {
      const live = await liveColumns(handle().db);
      assert.ok(live.length > 0, 'migrate created tables');
      assert.deepEqual(schemaDrift(live, tables), []);
    });

    it('names the table and column when they drift', async () => {
      const live = await liveColumns(handle().db);
      const wrong: TableSpecs = structuredClone(tables) as TableSpecs;
      const tenants = wrong.tenants ?? {};
      const audit = wrong.audit_events ?? {};
      tenants.name = { type: 'integer' };
      tenants.slug = { type: 'text', nullable: true };
      tenants.status = { type: 'text' };
      delete audit.ip;
      audit.extra = { type: 'text' };
      wrong.ghosts = { id: { type: 'uuid' } };
      const drift = schemaDrift(live, wrong);
      const expected = [
        'tenants.name: type',
        'tenants.slug: is NOT NULL',
        'tenants.status: has DEFAULT',
        'audit_events.ip: column is in the database',
        'audit_events.extra: column is in tables.ts',
        'ghosts: table is in tables.ts',
      ];
      for (const prefix of expected) {
        assert.ok(
          drift.some((line) => line.startsWith(prefix)),
          `expected a line starting "${prefix}" in:\n${drift.join('\n')}`,
        );
      }
      assert.equal(drift.length, expected.length, drift.join('\n'));
    });

    it('migrates again without error or change', async () => {
      const columnsBefore = await liveColumns(handle().db);
      await migrate(handle());
      assert.deepEqual(await liveColumns(handle().db), columnsBefore);
    });
  });
}

describe('concurrent migrations [postgres]', {
  skip: DATABASE_URL ? false : 'DATABASE_URL is not set',
}, () => {
  it('lets two migrate() calls on a fresh database both succeed (advisory lock)', async () => {
    const scratch = await createScratchDatabase(DATABASE_URL as string);
    const handles: DatabaseHandle[] = [];
    try {
      handles.push(await openDatabase({ kind: 'pg', url: scratch.url }));
      handles.push(await openDatabase({ kind: 'pg', url: scratch.url }));
      const results = await Promise.allSettled(handles.map((handle) => migrate(handle)));
      assert.deepEqual(
        results.map((result) => (result.status === 'rejected' ? String(result.reason) : 'ok')),
        ['ok', 'ok'],
      );
      const first = handles[0];
      assert.ok(first);
      assert.deepEqual(schemaDrift(await liveColumns(first.db), tables), []);
    } finally {
      await Promise.all(handles.map((handle) => handle.close()));
      await scratch.drop();
    }
  });
});
