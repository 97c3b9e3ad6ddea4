import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../lib/config.js';

const ADMIN = 'a'.repeat(32);

function failure(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.message;
  }
  assert.fail('expected the configuration to be refused');
}

describe('configuration', () => {
  it('runs embedded with no services, in ./.data by default or in memory', () => {
    const config = loadConfig({ ADMIN_KEY: ADMIN });
    assert.deepEqual(config.database, { kind: 'pglite', dataDir: './.data' });
    assert.equal(config.rateLimit.kind, 'memory');
    assert.deepEqual(loadConfig({ ADMIN_KEY: ADMIN, DATA_DIR: 'memory' }).database, {
      kind: 'pglite',
      dataDir: null,
    });
  });

  it('uses node-postgres for a local DATABASE_URL and Neon for a neon.tech host', () => {
    assert.equal(
      loadConfig({ ADMIN_KEY: ADMIN, DATABASE_URL: 'postgres://u@127.0.0.1/db' }).database.kind,
      'pg',
    );
    const neon = loadConfig({
      ADMIN_KEY: ADMIN,
      DATABASE_URL: 'postgresql://u:p@ep-x.eu-central-1.aws.neon.tech/db',
    });
    assert.equal(neon.database.kind, 'neon');
  });

  it('uses Upstash when both REST settings are given', () => {
    const config = loadConfig({
      ADMIN_KEY: ADMIN,
      UPSTASH_REDIS_REST_URL: 'https://x.upstash.io',
      UPSTASH_REDIS_REST_TOKEN: 't',
    });
    assert.equal(config.rateLimit.kind, 'upstash');
  });

  it('bounds every dependency call: defaults, overrides, and a refusal naming the setting', () => {
    const services = {
      ADMIN_KEY: ADMIN,
      DATABASE_URL: 'postgres://u@127.0.0.1/db',
      UPSTASH_REDIS_REST_URL: 'https://x.upstash.io',
      UPSTASH_REDIS_REST_TOKEN: 't',
    };
    const defaults = loadConfig(services);
    assert.ok(defaults.database.kind === 'pg' && defaults.rateLimit.kind === 'upstash');
    assert.deepEqual(defaults.database.timeouts, { connectMs: 1500, statementMs: 1000 });
    assert.equal(defaults.rateLimit.timeoutMs, 300);
    assert.equal(defaults.rateLimit.onOutage, 'policy');
    const tuned = loadConfig({
      ...services,
      DB_CONNECT_TIMEOUT_MS: '800',
      DB_STATEMENT_TIMEOUT_MS: '250',
      RATE_LIMIT_TIMEOUT_MS: '200',
      RATE_LIMIT_ON_OUTAGE: 'closed',
    });
    assert.ok(tuned.database.kind === 'pg' && tuned.rateLimit.kind === 'upstash');
    assert.deepEqual(tuned.database.timeouts, { connectMs: 800, statementMs: 250 });
    assert.equal(tuned.rateLimit.timeoutMs, 200);
    assert.equal(tuned.rateLimit.onOutage, 'closed');
    assert.match(failure({ ...services, RATE_LIMIT_ON_OUTAGE: 'open' }), /RATE_LIMIT_ON_OUTAGE/);
    assert.match(failure({ ...services, RATE_LIMIT_TIMEOUT_MS: 'soon' }), /RATE_LIMIT_TIMEOUT_MS/);
    assert.match(failure({ ...services, DB_STATEMENT_TIMEOUT_MS: '0' }), /DB_STATEMENT_TIMEOUT_MS/);
  });

  it('stops with one line naming the setting', () => {
    assert.match(failure({}), /^Invalid configuration: ADMIN_KEY /);
    assert.match(failure({ ADMIN_KEY: 'short' }), /ADMIN_KEY .*32 characters/);
    assert.match(failure({ ADMIN_KEY: `${ADMIN},short` }), /ADMIN_KEY/);
    assert.match(failure({ ADMIN_KEY: ADMIN, DATABASE_URL: 'mysql://x' }), /DATABASE_URL/);
    assert.match(
      failure({ ADMIN_KEY: ADMIN, UPSTASH_REDIS_REST_URL: 'https://x.upstash.io' }),
      /UPSTASH_REDIS_REST_TOKEN/,
    );
    assert.match(failure({ ADMIN_KEY: ADMIN, BCRYPT_COST: '8' }), /BCRYPT_COST must be at least 10/);
    assert.match(failure({ ADMIN_KEY: ADMIN, CORS_ORIGINS: 'https://a.example/path' }), /CORS_ORIGINS/);
    assert.match(failure({ ADMIN_KEY: ADMIN, NEON_WS_PROXY: 'ws://127.0.0.1:1' }), /NEON_WS_PROXY/);
    for (const message of [failure({}), failure({ ADMIN_KEY: 'short-secret-value' })]) {
      assert.equal(message.split('\n').length, 1);
      assert.ok(!message.includes('short-secret-value'), 'the value itself is never printed');
    }
  });

  it('accepts several admin keys (rotation) and several CORS origins', () => {
    const config = loadConfig({
      ADMIN_KEY: `${ADMIN}, ${'b'.repeat(40)}`,
      CORS_ORIGINS: 'https://a.example,https://b.example',
    });
    assert.equal(config.adminKeys.length, 2);
    assert.deepEqual(config.corsOrigins, ['https://a.example', 'https://b.example']);
  });

  it('on Vercel refuses the embedded database, the in-process limiter and ephemeral signing keys', () => {
    assert.match(
      failure({ ADMIN_KEY: ADMIN, VERCEL_ENV: 'production' }),
      /DATABASE_URL is required on Vercel/,
    );
    assert.match(
      failure({ ADMIN_KEY: ADMIN, VERCEL_ENV: 'preview', DATABASE_URL: 'postgres://u@h.neon.tech/d' }),
      /UPSTASH_REDIS_REST_URL is required on Vercel/,
    );
    assert.match(
      failure({
        ADMIN_KEY: ADMIN,
        VERCEL_ENV: 'production',
        DATABASE_URL: 'postgres://u@h.neon.tech/d',
        UPSTASH_REDIS_REST_URL: 'https://x.upstash.io',
        UPSTASH_REDIS_REST_TOKEN: 't',
      }),
      /JWT_PRIVATE_KEYS is required on Vercel/,
    );
  });
});
