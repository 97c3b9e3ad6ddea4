/**
 * Environments never mix: from Vercel's system variables alone, production and each preview branch
 * get their own JWT issuer and audience, rate-limit prefix and APP_URL (reset links), so a staging
 * token is refused in production and the reverse, and their limit windows are different keys.
 * Explicit settings win. Also the Vercel Marketplace's variable names (Upstash, Neon).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Config, ConfigError, loadConfig } from '../../lib/config.js';
import { DEFAULT_DATABASE_TIMEOUTS } from '../../lib/db/timeouts.js';
import { AuthenticationError } from '../../lib/errors.js';
import { signAccessToken, type TokenSettings, verifyAccessToken } from '../../lib/identity/access-token.js';
import { generateSigningJwk, signingKeysOnUse } from '../../lib/identity/signing-keys.js';
import { DEFAULT_RATE_LIMIT_TIMEOUT_MS } from '../../lib/ratelimit/limiter.js';

const ADMIN = 'a'.repeat(32);
const services = {
  ADMIN_KEY: ADMIN,
  DATABASE_URL: 'postgresql://app:pw@ep-cool-1234-pooler.us-east-1.aws.neon.tech/neondb',
  UPSTASH_REDIS_REST_URL: 'https://cool-1234.upstash.io',
  UPSTASH_REDIS_REST_TOKEN: 'token',
  JWT_PRIVATE_KEYS: '[]',
  DATA_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64'),
};
/** What Vercel exposes to a production deployment and to a preview of branch `feature/login`. */
const production = {
  ...services,
  VERCEL: '1',
  VERCEL_ENV: 'production',
  VERCEL_GIT_COMMIT_REF: 'main',
  VERCEL_URL: 'heir-auth-abc123-acme.vercel.app',
  VERCEL_BRANCH_URL: 'heir-auth-git-main-acme.vercel.app',
  VERCEL_PROJECT_PRODUCTION_URL: 'auth.acme.com',
};
const staging = {
  ...services,
  VERCEL: '1',
  VERCEL_ENV: 'preview',
  VERCEL_GIT_COMMIT_REF: 'feature/login',
  VERCEL_URL: 'heir-auth-def456-acme.vercel.app',
  VERCEL_BRANCH_URL: 'heir-auth-git-feature-login-acme.vercel.app',
  VERCEL_PROJECT_PRODUCTION_URL: 'auth.acme.com',
};

function failure(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.message;
  }
  assert.fail('expected the configuration to be refused');
}

/** Token settings as lib/app.ts builds them from a config, all with the SAME signing key. */
async function tokenSettings(config: Config, keysJson: string): Promise<TokenSettings> {
  return { keys: signingKeysOnUse(keysJson), issuer: config.jwt.issuer, audience: config.jwt.audience };
}

const claims = {
  userId: crypto.randomUUID(),
  tenantId: crypto.randomUUID(),
  role: 'owner' as const,
  sessionId: crypto.randomUUID(),
};

describe('environments never mix', () => {
  it('derives APP_URL, JWT issuer and audience, and the limiter prefix per environment', () => {
    const prod = loadConfig(production);
    assert.equal(prod.environment, 'production');
    assert.equal(prod.appUrl, 'https://auth.acme.com');
    assert.equal(prod.jwt.issuer, 'https://auth.acme.com');
    assert.equal(prod.jwt.audience, 'heir-api');
    assert.equal(prod.rateLimit.prefix, 'heir');

    const stage = loadConfig(staging);
    assert.match(stage.environment, /^preview-feature-login-[0-9a-f]{6}$/);
    assert.equal(stage.appUrl, 'https://heir-auth-git-feature-login-acme.vercel.app');
    assert.equal(stage.jwt.issuer, stage.appUrl);
    assert.equal(stage.jwt.audience, `heir-api:${stage.environment}`);
    assert.equal(stage.rateLimit.prefix, `heir:${stage.environment}`);
  });

  it('never defaults APP_URL to localhost on Vercel', () => {
    for (const env of [production, staging]) {
      const config = loadConfig(env);
      assert.doesNotMatch(config.appUrl, /localhost/);
      assert.doesNotMatch(config.jwt.issuer, /localhost/);
    }
    const { VERCEL_PROJECT_PRODUCTION_URL: _p, ...noProductionUrl } = production;
    assert.match(failure(noProductionUrl), /^Invalid configuration: APP_URL is required on Vercel/);
    const { VERCEL_BRANCH_URL: _b, VERCEL_URL: _u, ...noPreviewUrl } = staging;
    assert.match(failure(noPreviewUrl), /^Invalid configuration: APP_URL is required on Vercel/);
    // A preview without a branch URL (a CLI deployment) falls back to its own deployment URL.
    const { VERCEL_BRANCH_URL: _c, ...cliPreview } = staging;
    assert.equal(loadConfig(cliPreview).appUrl, 'https://heir-auth-def456-acme.vercel.app');
  });

  it('gives two branches different names, even when their slugs collide', () => {
    const a = loadConfig({ ...staging, VERCEL_GIT_COMMIT_REF: 'feature/a' });
    const b = loadConfig({ ...staging, VERCEL_GIT_COMMIT_REF: 'feature-a' });
    assert.equal(b.environment, 'preview-feature-a');
    assert.notEqual(a.environment, b.environment);
    assert.notEqual(a.rateLimit.prefix, b.rateLimit.prefix);
    const long = loadConfig({ ...staging, VERCEL_GIT_COMMIT_REF: `x${'y'.repeat(200)}` });
    assert.match(long.rateLimit.prefix, /^[\w:-]{1,64}$/, 'a long branch still makes a valid prefix');
  });

  it('lets explicit settings win', () => {
    const config = loadConfig({
      ...staging,
      APP_URL: 'https://staging.acme.com/',
      JWT_ISSUER: 'https://issuer.acme.com',
      JWT_AUDIENCE: 'acme-staging',
      RATE_LIMIT_PREFIX: 'acme-staging',
    });
    assert.equal(config.appUrl, 'https://staging.acme.com');
    assert.equal(config.jwt.issuer, 'https://issuer.acme.com');
    assert.equal(config.jwt.audience, 'acme-staging');
    assert.equal(config.rateLimit.prefix, 'acme-staging');
  });

  it('keeps local runs as they were (localhost, heir, heir-api)', () => {
    const local = loadConfig({ ADMIN_KEY: ADMIN });
    assert.equal(local.environment, 'local');
    assert.equal(local.appUrl, 'http://localhost:3000');
    assert.equal(local.rateLimit.prefix, 'heir');
    assert.equal(local.jwt.audience, 'heir-api');
  });

  it('refuses a staging token in production and a production token in staging (same signing key)', async () => {
    const keysJson = JSON.stringify([await generateSigningJwk()]);
    const prod = await tokenSettings(loadConfig(production), keysJson);
    const stage = await tokenSettings(loadConfig(staging), keysJson);
    const other = await tokenSettings(
      loadConfig({
        ...staging,
        VERCEL_GIT_COMMIT_REF: 'other',
        VERCEL_BRANCH_URL: 'heir-auth-git-other-acme.vercel.app',
      }),
      keysJson,
    );
    const now = new Date();
    const stagingToken = await signAccessToken(stage, claims, now);
    const productionToken = await signAccessToken(prod, claims, now);
    // Each environment accepts its own token (so the refusals below are about the environment).
    assert.equal((await verifyAccessToken(stage, stagingToken, now)).sessionId, claims.sessionId);
    assert.equal((await verifyAccessToken(prod, productionToken, now)).sessionId, claims.sessionId);
    await assert.rejects(verifyAccessToken(prod, stagingToken, now), AuthenticationError);
    await assert.rejects(verifyAccessToken(stage, productionToken, now), AuthenticationError);
    await assert.rejects(verifyAccessToken(other, stagingToken, now), AuthenticationError);
  });
});

describe('Vercel Marketplace variable names', () => {
  it("accepts Upstash's KV_REST_API_URL / KV_REST_API_TOKEN", () => {
    const { UPSTASH_REDIS_REST_URL: _u, UPSTASH_REDIS_REST_TOKEN: _t, ...rest } = production;
    const config = loadConfig({
      ...rest,
      KV_REST_API_URL: 'https://kv-1.upstash.io',
      KV_REST_API_TOKEN: 'kv',
    });
    assert.deepEqual(config.rateLimit, {
      kind: 'upstash',
      url: 'https://kv-1.upstash.io',
      token: 'kv',
      prefix: 'heir',
      timeoutMs: DEFAULT_RATE_LIMIT_TIMEOUT_MS,
      onOutage: 'policy',
    });
    assert.match(
      failure({ ...rest, KV_REST_API_URL: 'not a url', KV_REST_API_TOKEN: 'kv' }),
      /KV_REST_API_URL/,
    );
    // Ours win when both are set.
    const both = loadConfig({
      ...production,
      KV_REST_API_URL: 'https://kv-1.upstash.io',
      KV_REST_API_TOKEN: 'kv',
    });
    assert.equal(both.rateLimit.kind === 'upstash' && both.rateLimit.url, 'https://cool-1234.upstash.io');
  });

  it("accepts Neon's DATABASE_URL / DATABASE_URL_UNPOOLED and POSTGRES_URL / POSTGRES_URL_NON_POOLING; migrates through the direct URL", () => {
    const pooled = 'postgresql://app:pw@ep-cool-1234-pooler.us-east-1.aws.neon.tech/neondb?sslmode=require';
    const direct = 'postgresql://app:pw@ep-cool-1234.us-east-1.aws.neon.tech/neondb?sslmode=require';
    const neon = loadConfig({ ...production, DATABASE_URL: pooled, DATABASE_URL_UNPOOLED: direct });
    const timeouts = DEFAULT_DATABASE_TIMEOUTS;
    assert.deepEqual(neon.database, { kind: 'neon', url: pooled, wsProxy: null, timeouts });
    assert.deepEqual(neon.migrationDatabase, { kind: 'neon', url: direct, wsProxy: null, timeouts });

    const { DATABASE_URL: _d, ...rest } = production;
    const vercelNames = loadConfig({ ...rest, POSTGRES_URL: pooled, POSTGRES_URL_NON_POOLING: direct });
    assert.equal(vercelNames.database.kind === 'neon' && vercelNames.database.url, pooled);
    assert.equal(vercelNames.migrationDatabase.kind === 'neon' && vercelNames.migrationDatabase.url, direct);

    // Without a direct URL, migrations use DATABASE_URL; never the direct URL of another database.
    assert.deepEqual(loadConfig({ ...production, DATABASE_URL: pooled }).migrationDatabase, neon.database);
    assert.match(
      failure({
        ...production,
        DATABASE_URL: pooled,
        DATABASE_URL_UNPOOLED: direct.replace('neondb', 'otherdb'),
      }),
      /DATABASE_URL_UNPOOLED names another database/,
    );
    assert.match(
      failure({
        ...production,
        DATABASE_URL: pooled,
        DATABASE_URL_UNPOOLED: direct.replace('ep-cool-1234', 'ep-prod-9'),
      }),
      /DATABASE_URL_UNPOOLED names another database/,
    );
  });
});
