/** `npm run db:migrate`: applies schema.sql to the configured database (idempotent). */
import { ConfigError, loadConfig } from '../lib/config.js';
import { openDatabase } from '../lib/db/database.js';
import { migrate } from '../lib/db/migrate.js';

try {
  const config = loadConfig({ ADMIN_KEY: 'x'.repeat(32), ...process.env });
  const handle = await openDatabase(config.database);
  await migrate(handle);
  await handle.close();
  const where =
    config.database.kind === 'pglite' ? (config.database.dataDir ?? 'memory') : config.database.kind;
  console.log(`schema.sql applied (${where})`);
} catch (error) {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
}
