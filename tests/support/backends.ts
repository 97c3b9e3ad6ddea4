/**
 * The backends every HTTP test runs against: embedded (PGlite in memory + in-process limiter) always;
 * local services (a fresh Postgres database + real Redis through the Upstash REST bridge) when
 * DATABASE_URL / REDIS_URL are set. Each backend gets its own database and Redis key prefix, created
 * here and removed afterwards, so no run depends on what another left behind.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';
import { type App, type AppOptions, createApp } from '../../lib/app.js';
import { loadConfig } from '../../lib/config.js';
import { type DatabaseHandle, openDatabase } from '../../lib/db/database.js';
import { startUpstashBridge } from './upstash-bridge.js';

export const TEST_ADMIN_KEY = 'test-admin-key-0123456789abcdefghijklmnopqrstuvwxyz';

export interface TestBackend {
  readonly name: string;
  /** Starts a fresh app on this backend; `env` overrides settings. */
  start(env?: Record<string, string>, options?: AppOptions): Promise<{ app: App; stop(): Promise<void> }>;
}

const baseEnv = {
  ADMIN_KEY: TEST_ADMIN_KEY,
  LOG_LEVEL: 'silent',
  APP_URL: 'https://portal.heir.test',
  // The functional suites share a loaded 2-core machine with the shared Postgres and Redis; the
  // production bounds (1–1.5 s) would turn a slow moment into a 503 and a flaky test. The bounds
  // themselves are tested where they are the subject: tests/faults, tests/http/database-failures,
  // tests/unit/ratelimit.
  DB_CONNECT_TIMEOUT_MS: '15000',
  DB_STATEMENT_TIMEOUT_MS: '15000',
  RATE_LIMIT_TIMEOUT_MS: '15000',
};

const embedded: TestBackend = {
  name: 'embedded',
  async start(env = {}, options = {}) {
    const app = await createApp(loadConfig({ ...baseEnv, DATA_DIR: 'memory', ...env }), options);
    return { app, stop: () => app.close() };
  },
};

/** A database of its own on the DATABASE_URL server; dropped by the returned function. */
export async function createScratchDatabase(
  serverUrl: string,
): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `heir_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: serverUrl });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}

/** Deletes every Redis key under a prefix (SCAN, never KEYS). */
export async function deleteRedisPrefix(redisUrl: string, prefix: string): Promise<void> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    if (keys.length > 0) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
  await redis.quit();
}

function services(databaseUrl: string, redisUrl: string): TestBackend {
  return {
    name: 'postgres+redis',
    async start(env = {}, options = {}) {
      const database = await createScratchDatabase(databaseUrl);
      const token = randomBytes(16).toString('hex');
      const bridge = await startUpstashBridge({ redisUrl, token });
      const prefix = `heirtest_${randomBytes(6).toString('hex')}`;
      const app = await createApp(
        loadConfig({
          ...baseEnv,
          DATABASE_URL: database.url,
          UPSTASH_REDIS_REST_URL: bridge.url,
          UPSTASH_REDIS_REST_TOKEN: token,
          RATE_LIMIT_PREFIX: prefix,
          ...env,
        }),
        { migrate: true, ...options },
      );
      return {
        app,
        async stop() {
          await app.close();
          await bridge.close();
          await deleteRedisPrefix(redisUrl, prefix);
          await database.drop();
        },
      };
    },
  };
}

/** The backends this run cannot use, and why: their suites are declared skipped, so the run counts them. */
export function missingBackends(): { name: string; reason: string }[] {
  const { DATABASE_URL, REDIS_URL } = process.env;
  if (DATABASE_URL && REDIS_URL) return [];
  const unset = [DATABASE_URL ? null : 'DATABASE_URL', REDIS_URL ? null : 'REDIS_URL'].filter(Boolean);
  return [{ name: 'postgres+redis', reason: `no Postgres/Redis: ${unset.join(' and ')} not set` }];
}

export function testBackends(): TestBackend[] {
  const { DATABASE_URL, REDIS_URL } = process.env;
  const list = [embedded];
  if (DATABASE_URL && REDIS_URL) list.push(services(DATABASE_URL, REDIS_URL));
  return list;
}

/** A backend that hands out fresh, empty databases (no schema), for the schema and migration tests. */
export interface EmptyDatabaseBackend {
  readonly name: string;
  open(): Promise<{ handle: DatabaseHandle; dispose(): Promise<void> }>;
}

/** An in-memory PGlite always; a scratch database on the DATABASE_URL server when it is set. */
export function emptyDatabaseBackends(): EmptyDatabaseBackend[] {
  const list: EmptyDatabaseBackend[] = [
    {
      name: 'embedded',
      async open() {
        const handle = await openDatabase({ kind: 'pglite', dataDir: null });
        return { handle, dispose: () => handle.close() };
      },
    },
  ];
  const { DATABASE_URL } = process.env;
  if (DATABASE_URL) {
    list.push({
      name: 'postgres',
      async open() {
        const scratch = await createScratchDatabase(DATABASE_URL);
        const handle = await openDatabase({ kind: 'pg', url: scratch.url });
        return {
          handle,
          async dispose() {
            await handle.close();
            await scratch.drop();
          },
        };
      },
    });
  }
  return list;
}
