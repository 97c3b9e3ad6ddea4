import { readFile } from 'node:fs/promises';
import type { DatabaseHandle } from './database.js';

const schemaUrl = new URL('../../schema.sql', import.meta.url);

/** Any fixed number: concurrent migrators (parallel test files, two dev servers) queue on it. */
const MIGRATION_LOCK = 7_262_001;

/** Applies schema.sql in one transaction. Every statement in it is idempotent. */
export async function migrate(handle: DatabaseHandle): Promise<void> {
  const schema = await readFile(schemaUrl, 'utf8');
  await handle.exec(`BEGIN;\nSELECT pg_advisory_xact_lock(${MIGRATION_LOCK});\n${schema}\nCOMMIT;`);
}
