import { z } from 'zod';
import { type DatabaseTimeouts, DEFAULT_DATABASE_TIMEOUTS } from './db/timeouts.js';
import { DEFAULT_RATE_LIMIT_TIMEOUT_MS } from './ratelimit/limiter.js';

/**
 * The environment, parsed once with zod. The run mode follows from it alone:
 * - embedded: no DATABASE_URL → PGlite in DATA_DIR (or in memory), in-process rate limiter;
 * - local services / production: DATABASE_URL → Postgres (node-postgres) or Neon (serverless Pool),
 *   UPSTASH_REDIS_REST_URL/_TOKEN → @upstash/ratelimit (against Upstash, or a local REST bridge to Redis).
 * On Vercel (VERCEL_ENV set) the embedded database and the in-process limiter are refused: they would
 * silently give every function instance its own database and its own limits.
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
    DATABASE_URL: z
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
      .default('heir'),
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
    APP_URL: z.url().default('http://localhost:3000'),
    LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
    JWT_PRIVATE_KEYS: z.string().optional(),
    JWT_ISSUER: z.string().min(1).optional(),
    JWT_AUDIENCE: z.string().min(1).default('heir-api'),
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
  })
  .superRefine((env, ctx) => {
    if (Boolean(env.UPSTASH_REDIS_REST_URL) !== Boolean(env.UPSTASH_REDIS_REST_TOKEN)) {
      ctx.addIssue({
        code: 'custom',
        path: [env.UPSTASH_REDIS_REST_URL ? 'UPSTASH_REDIS_REST_TOKEN' : 'UPSTASH_REDIS_REST_URL'],
        message: 'UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN go together',
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
    }
  });

export type Env = z.infer<typeof envSchema>;

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
}

/** Thrown with one line naming the offending setting; start-up stops on it. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

function databaseConfig(env: Env): Config['database'] {
  if (!env.DATABASE_URL) {
    return { kind: 'pglite', dataDir: env.DATA_DIR === 'memory' ? null : env.DATA_DIR };
  }
  const host = new URL(env.DATABASE_URL).hostname;
  const driver = env.DATABASE_DRIVER ?? (host.endsWith('.neon.tech') ? 'neon' : 'pg');
  const timeouts = { connectMs: env.DB_CONNECT_TIMEOUT_MS, statementMs: env.DB_STATEMENT_TIMEOUT_MS };
  return driver === 'neon'
    ? { kind: 'neon', url: env.DATABASE_URL, wsProxy: env.NEON_WS_PROXY ?? null, timeouts }
    : { kind: 'pg', url: env.DATABASE_URL, timeouts };
}

export function loadConfig(source: Record<string, string | undefined> = process.env): Config {
  // Empty strings count as unset, as in most .env tooling.
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, value]) => value !== ''));
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const name = issue?.path[0] ?? 'environment';
    throw new ConfigError(`Invalid configuration: ${String(name)} ${issue?.message ?? 'is invalid'}`);
  }
  const env = parsed.data;
  return {
    database: databaseConfig(env),
    rateLimit:
      env.UPSTASH_REDIS_REST_URL && env.UPSTASH_REDIS_REST_TOKEN
        ? {
            kind: 'upstash',
            url: env.UPSTASH_REDIS_REST_URL,
            token: env.UPSTASH_REDIS_REST_TOKEN,
            prefix: env.RATE_LIMIT_PREFIX,
            timeoutMs: env.RATE_LIMIT_TIMEOUT_MS,
            onOutage: env.RATE_LIMIT_ON_OUTAGE,
          }
        : { kind: 'memory', prefix: env.RATE_LIMIT_PREFIX },
    adminKeys: env.ADMIN_KEY,
    corsOrigins: env.CORS_ORIGINS,
    appUrl: env.APP_URL.replace(/\/+$/, ''),
    logLevel: env.LOG_LEVEL,
    production: env.VERCEL_ENV === 'production',
    jwt: {
      privateKeys: env.JWT_PRIVATE_KEYS ?? null,
      issuer: env.JWT_ISSUER ?? env.APP_URL.replace(/\/+$/, ''),
      audience: env.JWT_AUDIENCE,
    },
    bcryptCost: env.BCRYPT_COST,
    mail: { smtpUrl: env.SMTP_URL ?? null, from: env.MAIL_FROM },
  };
}
