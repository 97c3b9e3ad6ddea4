/**
 * `npm run db:migrate`: brings the configured database to the latest migration (migrations/, applied
 * once each through Kysely's ledger) and ends. Also the Vercel build command (vercel.json), so each
 * deployment's own database is current before its functions go live; there it uses the direct URL
 * (DATABASE_URL_UNPOOLED) when the integration provides one, and skips with a message when the build
 * has no database at all. Locally it reads .env.local and .env, and without DATABASE_URL migrates the
 * embedded database in DATA_DIR.
 */
import { ConfigError, loadConfig } from '../lib/config.js';
import { openDatabase } from '../lib/db/database.js';
import { migrate } from '../lib/db/migrate.js';
import { endScript } from './end-script.js';
import { loadEnvFiles } from './load-env.js';

loadEnvFiles();
const onVercel = Boolean(process.env.VERCEL);
const hasDatabase = ['DATABASE_URL', 'POSTGRES_URL'].some((name) => process.env[name]);

if (onVercel && !hasDatabase) {
  console.log(
    'db:migrate: this build has no DATABASE_URL (nor POSTGRES_URL): no database to migrate, skipping. ' +
      'Connect a database to this environment (docs/DEPLOY.md), or the functions will refuse to start.',
  );
  endScript(0);
}

try {
  // Only the database settings matter here: a placeholder admin key, and no Vercel environment (whose
  // other requirements, Upstash and signing keys, are the functions' business, not the build's).
  const { VERCEL_ENV: _vercelEnv, ...env } = process.env;
  const config = loadConfig({ ADMIN_KEY: 'x'.repeat(32), ...env });
  const target = config.migrationDatabase;
  const where =
    target.kind === 'pglite'
      ? `embedded database in ${target.dataDir ?? 'memory'}`
      : `${target.kind === 'neon' ? 'Neon' : 'Postgres'} database ${describe(target.url)}`;
  console.log(`db:migrate: migrating the ${where}…`);
  const handle = await openDatabase(target);
  try {
    const report = await migrate(handle);
    console.log(
      report.applied.length > 0
        ? `db:migrate: applied ${report.applied.join(', ')}; ${count(report.total)} in all`
        : `db:migrate: already up to date (${count(report.total)})`,
    );
  } finally {
    await handle.close();
  }
  endScript(0);
} catch (error) {
  console.error(`db:migrate: FAILED — ${error instanceof ConfigError ? error.message : String(error)}`);
  endScript(1);
}

function count(n: number): string {
  return `${n} migration${n === 1 ? '' : 's'}`;
}

/** host/database, never the password. */
function describe(url: string): string {
  const parsed = new URL(url);
  return `${parsed.hostname}${parsed.pathname}`;
}
