import { type Config, loadConfig } from './config.js';
import { createDataCipher, type DataCipher, ephemeralDataKey, parseDataKeys } from './crypto/data-cipher.js';
import { type DatabaseHandle, type Db, openDatabase } from './db/database.js';
import type { TokenSettings } from './identity/access-token.js';
import { SessionCache } from './identity/session-cache.js';
import { signingKeysOnUse } from './identity/signing-keys.js';
import { KeyCache } from './keys/key-cache.js';
import { KeyUseRecorder } from './keys/key-usage.js';
import { createLogger, type Logger } from './log.js';
import { createMailer, type Mailer } from './mail/outbox.js';
import type { RateLimiter } from './ratelimit/limiter.js';
import { createMemoryLimiter } from './ratelimit/memory.js';
import { withOutagePolicy } from './ratelimit/outage.js';
import { createMemorySignals, createRedisSignals, type Signals } from './ratelimit/signals.js';
import { createUpstashLimiter, createUpstashRedis } from './ratelimit/upstash.js';

/** Everything a request needs from the outside world, built once per process from the config. */
export interface App {
  readonly config: Config;
  readonly db: Db;
  readonly database: DatabaseHandle;
  readonly limiter: RateLimiter;
  /** Revocation signals of keys and logins, key usage counters (lib/ratelimit/signals.ts). */
  readonly signals: Signals;
  /** Verified API-key records of this instance (lib/keys/key-cache.ts). */
  readonly keyCache: KeyCache;
  /** Verified logins of this instance (lib/identity/session-cache.ts). */
  readonly sessionCache: SessionCache;
  /** Debounced last_used_* writes and anomaly checks of API keys (lib/keys/key-usage.ts). */
  readonly keyUse: KeyUseRecorder;
  readonly log: Logger;
  readonly tokens: TokenSettings;
  readonly mailer: Mailer;
  /** Encryption at rest for secrets the service reads back (lib/crypto/data-cipher.ts). */
  readonly cipher: DataCipher;
  /** The clock every expiry and window is computed from (tests may move it). */
  now(): Date;
  /** Runs work after the response (Vercel's waitUntil in production); never on the hot path. */
  defer(task: Promise<unknown>): void;
  /** Waits for deferred work (tests, shutdown). */
  settle(): Promise<void>;
  close(): Promise<void>;
}

export interface AppOptions {
  readonly now?: () => Date;
  readonly log?: Logger;
  readonly defer?: (task: Promise<unknown>) => void;
  /** Apply pending migrations on start (always for the embedded database, which may be brand new). */
  readonly migrate?: boolean;
}

/** The limiter and the key signals, sharing one store (and, on Upstash, one client whose transport batches their commands). */
function createStore(config: Config, log: Logger): { limiter: RateLimiter; signals: Signals } {
  const rateLimit = config.rateLimit;
  if (rateLimit.kind === 'memory') return { limiter: createMemoryLimiter(), signals: createMemorySignals() };
  const redis = createUpstashRedis(rateLimit);
  return {
    limiter: withOutagePolicy(createUpstashLimiter(rateLimit, redis), { mode: rateLimit.onOutage, log }),
    signals: createRedisSignals(redis, rateLimit.prefix, rateLimit.timeoutMs),
  };
}

export async function createApp(config: Config, options: AppOptions = {}): Promise<App> {
  const log = options.log ?? createLogger(config.logLevel);
  const database = await openDatabase(config.database);
  if (options.migrate ?? config.database.kind === 'pglite') {
    // Only the embedded database and the scripts migrate here; a deployment's build does it, so its
    // functions never load Kysely's Migrator and the migrations folder's reader.
    const { migrate } = await import('./db/migrate.js');
    await migrate(database);
  }
  // Checked now, imported with jose by the first request that signs or verifies a token.
  const keys = signingKeysOnUse(config.jwt.privateKeys);
  if (config.dataEncryptionKeys.length === 0) {
    // lib/config.ts refuses this on Vercel; elsewhere secrets saved now are unreadable after a restart.
    log.warn('DATA_ENCRYPTION_KEY is unset: secrets are encrypted under an ephemeral per-process key');
  }
  const dataKeys =
    config.dataEncryptionKeys.length > 0 ? parseDataKeys(config.dataEncryptionKeys) : [ephemeralDataKey()];
  const pending = new Set<Promise<unknown>>();
  const settle = async () => {
    while (pending.size > 0) await Promise.allSettled([...pending]);
  };
  const store = createStore(config, log);
  return {
    config,
    db: database.db,
    database,
    ...store,
    keyCache: new KeyCache(),
    sessionCache: new SessionCache(),
    keyUse: new KeyUseRecorder(),
    log,
    tokens: { keys, issuer: config.jwt.issuer, audience: config.jwt.audience },
    mailer: createMailer(config.mail.smtpUrl, config.mail.from, log),
    cipher: createDataCipher(dataKeys),
    now: options.now ?? (() => new Date()),
    defer:
      options.defer ??
      ((task) => {
        const tracked = task
          .catch((error: unknown) => log.error('deferred task failed', { error }))
          .finally(() => pending.delete(tracked));
        pending.add(tracked);
      }),
    settle,
    close: async () => {
      await settle();
      await database.close();
    },
  };
}

let defaultApp: Promise<App> | undefined;

/** The process-wide app, from process.env, for the Vercel functions and the dev server. */
export function getDefaultApp(): Promise<App> {
  defaultApp ??= (async () => {
    const config = loadConfig();
    const { waitUntil } = await import('@vercel/functions');
    return createApp(config, process.env.VERCEL ? { defer: (task) => waitUntil(task) } : {});
  })();
  // A failed start (bad config, database down) is retried on the next request, not cached forever.
  defaultApp.catch(() => {
    defaultApp = undefined;
  });
  return defaultApp;
}
