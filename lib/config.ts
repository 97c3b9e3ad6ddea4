import { createHash } from 'node:crypto';
import * as z from 'zod';
import { type DatabaseTimeouts, DEFAULT_DATABASE_TIMEOUTS } from './db/timeouts.js';
import { DEFAULT_RATE_LIMIT_TIMEOUT_MS } from './ratelimit/limiter.js';
import { dataKeysError, FIRS_OAUTH_TIMEOUT_MS } from './resources/settings-config.js';

/**
 * The environment, parsed once with zod. The run mode follows from it alone:
 * - embedded: no DATABASE_URL → PGlite in DATA_DIR (or in memory), in-process rate limiter;
 * - local services / production: DATABASE_URL → Postgres (node-postgres) or Neon (serverless Pool),
 *   UPSTASH_REDIS_REST_URL/_TOKEN → @upstash/ratelimit (against Upstash, or a local REST bridge to Redis).
 * On Vercel (VERCEL_ENV set) the embedded database and the in-process limiter are refused: they would
 * silently give every function instance its own database and its own limits.
 *
 * Each Vercel environment (production, each preview branch) gets its own rate-limit prefix, JWT
 * audience and APP_URL (hence JWT issuer and reset links) from Vercel's system variables, so a
 * staging token or window is never accepted or counted in production; explicit settings win.
 * The Vercel Marketplace's names are accepted as their own docs do: Upstash's KV_REST_API_URL/_TOKEN
 * and Neon's POSTGRES_URL, DATABASE_URL_UNPOOLED, POSTGRES_URL_NON_POOLING.
 */

const commaList = z
  .string()
  .optional()
  .transform((value) =>
    (value ?? '')
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item.length > 0),
  );

/** A duration in milliseconds, between a floor that no network round trip beats and a minute. */
const milliseconds = (fallback: number) => z.coerce.number().int().min(50).max(60_000).default(fallback);

const envSchema = z
  .object({
    VERCEL_ENV: z.enum(['production', 'preview', 'development']).optional(),
    VERCEL_GIT_COMMIT_REF: z.string().optional(),
    VERCEL_URL: z.string().optional(),
    VERCEL_BRANCH_URL: z.string().optional(),
    VERCEL_PROJECT_PRODUCTION_URL: z.string().optional(),
    DATABASE_URL: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
      .optional(),
    /** The direct (unpooled) URL of the same database, for migrations (Neon's integration sets it). */
    DATABASE_URL_UNPOOLED: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
      .optional(),
    DATABASE_DRIVER: z.enum(['pg', 'neon']).optional(),
    NEON_WS_PROXY: z
      .string()
      .regex(/^[^:/]+:\d+(\/.*)?$/, 'must be host:port[/path], without a scheme')
      .optional(),
    DATA_DIR: z.string().min(1).default('./.data'),
    DB_CONNECT_TIMEOUT_MS: milliseconds(DEFAULT_DATABASE_TIMEOUTS.connectMs),
    DB_STATEMENT_TIMEOUT_MS: milliseconds(DEFAULT_DATABASE_TIMEOUTS.statementMs),
    UPSTASH_REDIS_REST_URL: z.url().optional(),
    UPSTASH_REDIS_REST_TOKEN: z.string().min(1).optional(),
    RATE_LIMIT_PREFIX: z
      .string()
      .regex(/^[\w:-]{1,64}$/, 'letters, digits, _ - : only')
      .optional(),
    RATE_LIMIT_TIMEOUT_MS: milliseconds(DEFAULT_RATE_LIMIT_TIMEOUT_MS),
    /** While Redis is down: `policy` = quotas fall back to memory, throttles 503; `closed` = all 503. */
    RATE_LIMIT_ON_OUTAGE: z.enum(['policy', 'closed']).default('policy'),
    ADMIN_KEY: commaList.pipe(
      z
        .array(z.string().min(32, 'each admin key must be at least 32 characters'))
        .min(1, 'is required (comma-separated to allow rotation; each at least 32 characters)'),
    ),
    CORS_ORIGINS: commaList.pipe(
      z.array(z.url().refine((url) => new URL(url).origin === url, 'each entry must be a bare origin')),
    ),
    APP_URL: z.url().optional(),
    LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
    JWT_PRIVATE_KEYS: z.string().optional(),
    JWT_ISSUER: z.string().min(1).optional(),
    JWT_AUDIENCE: z.string().min(1).optional(),
    BCRYPT_COST: z.coerce
      .number()
      .int()
      .min(10, 'must be at least 10')
      .max(15, 'must be at most 15')
      .default(10),
    SMTP_URL: z
      .string()
      .regex(/^smtps?:\/\//, 'must be an smtp:// or smtps:// URL')
      .optional(),
    MAIL_FROM: z.string().min(3).default('HEIR Auth <no-reply@heir.local>'),
    // Tenant resources: encryption at rest and the FIRS OAuth client (lib/resources/settings-config.ts).
    DATA_ENCRYPTION_KEY: commaList.refine((keys) => dataKeysError(keys) === null, {
      message: 'must be base64 of 32 bytes (comma-separated to allow rotation)',
    }),
    FIRS_OAUTH_TOKEN_URL: z.url().optional(),
    FIRS_OAUTH_CLIENT_ID: z.string().min(1).optional(),
    FIRS_OAUTH_CLIENT_SECRET: z.string().min(1).optional(),
    FIRS_OAUTH_TIMEOUT_MS: milliseconds(FIRS_OAUTH_TIMEOUT_MS),
  })
  .superRefine((env, ctx) => {
    if (Boolean(env.UPSTASH_REDIS_REST_URL) !== Boolean(env.UPSTASH_REDIS_REST_TOKEN)) {
      ctx.addIssue({
        code: 'custom',
        path: [env.UPSTASH_REDIS_REST_URL ? 'UPSTASH_REDIS_REST_TOKEN' : 'UPSTASH_REDIS_REST_URL'],
        message: 'UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN go together',
      });
    }
    if (env.FIRS_OAUTH_TOKEN_URL && !(env.FIRS_OAUTH_CLIENT_ID && env.FIRS_OAUTH_CLIENT_SECRET)) {
      ctx.addIssue({
        code: 'custom',
        path: [env.FIRS_OAUTH_CLIENT_ID ? 'FIRS_OAUTH_CLIENT_SECRET' : 'FIRS_OAUTH_CLIENT_ID'],
        message: 'is required with FIRS_OAUTH_TOKEN_URL',
      });
    }
    if (env.VERCEL_ENV && env.VERCEL_ENV !== 'development') {
      if (!env.DATABASE_URL) {
        ctx.addIssue({ code: 'custom', path: ['DATABASE_URL'], message: 'is required on Vercel' });
      }
      if (!env.UPSTASH_REDIS_REST_URL) {
        ctx.addIssue({ code: 'custom', path: ['UPSTASH_REDIS_REST_URL'], message: 'is required on Vercel' });
      }
      if (!env.JWT_PRIVATE_KEYS) {
        ctx.addIssue({ code: 'custom', path: ['JWT_PRIVATE_KEYS'], message: 'is required on Vercel' });
      }
      if (!env.APP_URL && !vercelAppUrl(env)) {
        ctx.addIssue({
          code: 'custom',
          path: ['APP_URL'],
          message: `is required on Vercel when ${env.VERCEL_ENV === 'production' ? 'VERCEL_PROJECT_PRODUCTION_URL' : 'VERCEL_BRANCH_URL and VERCEL_URL'} are not exposed`,
        });
      }
      if (env.DATA_ENCRYPTION_KEY.length === 0) {
        ctx.addIssue({ code: 'custom', path: ['DATA_ENCRYPTION_KEY'], message: 'is required on Vercel' });
      }
    }
    if (
      env.DATABASE_URL &&
      env.DATABASE_URL_UNPOOLED &&
      !sameDatabase(env.DATABASE_URL, env.DATABASE_URL_UNPOOLED)
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['DATABASE_URL_UNPOOLED'],
        message: 'names another database than DATABASE_URL (host, database or user differ)',
      });
    }
  });

export type Env = z.infer<typeof envSchema>;

/**
 * The deployment's public URL from Vercel's system variables: production's domain, a preview's
 * branch URL (stable across its pushes), else the deployment's own URL. Null off Vercel.
 */
function vercelAppUrl(env: Env): string | null {
  const host =
    env.VERCEL_ENV === 'production'
      ? env.VERCEL_PROJECT_PRODUCTION_URL
      : env.VERCEL_ENV === 'preview'
        ? (env.VERCEL_BRANCH_URL ?? env.VERCEL_URL)
        : undefined;
  return host ? `https://${host.replace(/^https?:\/\//, '').replace(/\/+$/, '')}` : null;
}

/**
 * The name that keeps an environment's rate-limit keys and tokens apart: null for production and
 * local runs (the base names), `preview-<branch>` for a preview, `development` for `vercel dev`.
 * A branch name is reduced to [a-z0-9-]; when that changes it, a hash of the original keeps
 * `feature/a` and `feature-a` apart.
 */
export function deploymentName(
  env: Pick<Env, 'VERCEL_ENV' | 'VERCEL_GIT_COMMIT_REF' | 'VERCEL_URL'>,
): string | null {
  if (env.VERCEL_ENV === 'development') return 'development';
  if (env.VERCEL_ENV !== 'preview') return null;
  const ref = env.VERCEL_GIT_COMMIT_REF ?? env.VERCEL_URL?.split('.')[0] ?? 'unnamed';
  const slug = ref
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 32);
  const hash = createHash('sha256').update(ref).digest('hex').slice(0, 6);
  return `preview-${slug === ref ? slug : `${slug}-${hash}`}`;
}

/** Neon's pooled and direct URLs differ only by `-pooler` in the host; anything else is another database. */
function sameDatabase(pooledUrl: string, directUrl: string): boolean {
  const pooled = new URL(pooledUrl);
  const direct = new URL(directUrl);
  const host = (url: URL) => url.hostname.replace(/-pooler(?=\.)/, '');
  return (
    host(pooled) === host(direct) &&
    pooled.pathname === direct.pathname &&
    decodeURIComponent(pooled.username) === decodeURIComponent(direct.username)
  );
}

/** The Marketplace integrations' names, used when ours are unset (as @upstash/redis's fromEnv does). */
const MARKETPLACE_NAMES: ReadonlyArray<readonly [ours: string, theirs: string]> = [
  ['UPSTASH_REDIS_REST_URL', 'KV_REST_API_URL'],
  ['UPSTASH_REDIS_REST_TOKEN', 'KV_REST_API_TOKEN'],
  ['DATABASE_URL', 'POSTGRES_URL'],
  ['DATABASE_URL_UNPOOLED', 'POSTGRES_URL_NON_POOLING'],
];

export interface Config {
  readonly database:
    | { readonly kind: 'pglite'; readonly dataDir: string | null }
    | { readonly kind: 'pg'; readonly url: string; readonly timeouts?: DatabaseTimeouts }
    | {
        readonly kind: 'neon';
        readonly url: string;
        readonly wsProxy: string | null;
        readonly timeouts?: DatabaseTimeouts;
      };
  /** The same database for migrations: through the direct URL when there is one (no pooler). */
  readonly migrationDatabase: Config['database'];
  /** `production`, `preview-<branch>`, `development` (vercel dev) or `local`. */
  readonly environment: string;
  readonly rateLimit:
    | { readonly kind: 'memory'; readonly prefix: string }
    | {
        readonly kind: 'upstash';
        readonly url: string;
        readonly token: string;
        readonly prefix: string;
        /** Budget for one limiter call, retries included (see lib/ratelimit/upstash.ts). */
        readonly timeoutMs: number;
        /** What each policy does while Redis is down (lib/ratelimit/outage.ts). */
        readonly onOutage: 'policy' | 'closed';
      };
  readonly adminKeys: readonly string[];
  readonly corsOrigins: readonly string[];
  readonly appUrl: string;
  readonly logLevel: Env['LOG_LEVEL'];
  readonly production: boolean;
  readonly jwt: {
    /** Private JWKs as JSON (the first signs, all verify); null → an ephemeral key per process. */
    readonly privateKeys: string | null;
    readonly issuer: string;
    readonly audience: string;
  };
  readonly bcryptCost: number;
  readonly mail: { readonly smtpUrl: string | null; readonly from: string };
  /** Base64 keys for encryption at rest (the first encrypts); empty → an ephemeral key (not on Vercel). */
  readonly dataEncryptionKeys: readonly string[];
  /** The FIRS OAuth token endpoint and client; null when FIRS_OAUTH_TOKEN_URL is unset. */
  readonly firsOAuth: {
    readonly tokenUrl: string;
    readonly clientId: string;
    readonly clientSecret: string;
    readonly timeoutMs: number;
  } | null;
}

/** Thrown with one line naming the offending setting; start-up stops on it. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

function databaseConfig(env: Env, url = env.DATABASE_URL): Config['database'] {
  if (!url) {
    return { kind: 'pglite', dataDir: env.DATA_DIR === 'memory' ? null : env.DATA_DIR };
  }
  const host = new URL(url).hostname;
  const driver = env.DATABASE_DRIVER ?? (host.endsWith('.neon.tech') ? 'neon' : 'pg');
  const timeouts = { connectMs: env.DB_CONNECT_TIMEOUT_MS, statementMs: env.DB_STATEMENT_TIMEOUT_MS };
  return driver === 'neon'
    ? { kind: 'neon', url, wsProxy: env.NEON_WS_PROXY ?? null, timeouts }
    : { kind: 'pg', url, timeouts };
}

export function loadConfig(source: Record<string, string | undefined> = process.env): Config {
  // Empty strings count as unset, as in most .env tooling.
  const cleaned: Record<string, string | undefined> = Object.fromEntries(
    Object.entries(source).filter(([, value]) => value !== ''),
  );
  const origin: Record<string, string> = {};
  for (const [ours, theirs] of MARKETPLACE_NAMES) {
    if (cleaned[ours] === undefined && cleaned[theirs] !== undefined) {
      cleaned[ours] = cleaned[theirs];
      origin[ours] = theirs;
    }
  }
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const name = String(issue?.path[0] ?? 'environment');
    throw new ConfigError(`Invalid configuration: ${origin[name] ?? name} ${issue?.message ?? 'is invalid'}`);
  }
  const env = parsed.data;
  const deployment = deploymentName(env);
  const appUrl = (env.APP_URL ?? vercelAppUrl(env) ?? 'http://localhost:3000').replace(/\/+$/, '');
  const prefix = env.RATE_LIMIT_PREFIX ?? (deployment ? `heir:${deployment}` : 'heir');
  return {
    database: databaseConfig(env),
    migrationDatabase: databaseConfig(
      env,
      env.DATABASE_URL && (env.DATABASE_URL_UNPOOLED ?? env.DATABASE_URL),
    ),
    environment: env.VERCEL_ENV === 'production' ? 'production' : (deployment ?? 'local'),
    rateLimit:
      env.UPSTASH_REDIS_REST_URL && env.UPSTASH_REDIS_REST_TOKEN
        ? {
            kind: 'upstash',
            url: env.UPSTASH_REDIS_REST_URL,
            token: env.UPSTASH_REDIS_REST_TOKEN,
            prefix,
            timeoutMs: env.RATE_LIMIT_TIMEOUT_MS,
            onOutage: env.RATE_LIMIT_ON_OUTAGE,
          }
        : { kind: 'memory', prefix },
    adminKeys: env.ADMIN_KEY,
    corsOrigins: env.CORS_ORIGINS,
    appUrl,
    logLevel: env.LOG_LEVEL,
    production: env.VERCEL_ENV === 'production',
    jwt: {
      privateKeys: env.JWT_PRIVATE_KEYS ?? null,
      issuer: env.JWT_ISSUER ?? appUrl,
      audience: env.JWT_AUDIENCE ?? (deployment ? `heir-api:${deployment}` : 'heir-api'),
    },
    bcryptCost: env.BCRYPT_COST,
    mail: { smtpUrl: env.SMTP_URL ?? null, from: env.MAIL_FROM },
    dataEncryptionKeys: env.DATA_ENCRYPTION_KEY,
    firsOAuth: env.FIRS_OAUTH_TOKEN_URL
      ? {
          tokenUrl: env.FIRS_OAUTH_TOKEN_URL,
          clientId: env.FIRS_OAUTH_CLIENT_ID ?? '',
          clientSecret: env.FIRS_OAUTH_CLIENT_SECRET ?? '', // both required with the URL (above)
          timeoutMs: env.FIRS_OAUTH_TIMEOUT_MS,
        }
      : null,
  };
}
