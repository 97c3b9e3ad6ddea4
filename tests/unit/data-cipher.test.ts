import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../lib/config.js';
import { createDataCipher, DecryptionError, keyId, parseDataKeys } from '../../lib/crypto/data-cipher.js';

const ADMIN = 'a'.repeat(32);
const key = () => randomBytes(32);

describe('encryption at rest (AES-256-GCM)', () => {
  it('round-trips, never stores the plaintext, and uses a fresh IV each time', () => {
    const cipher = createDataCipher([key()]);
    const a = cipher.encrypt('s3cret-value', 'ctx');
    const b = cipher.encrypt('s3cret-value', 'ctx');
    assert.notEqual(a, b);
    assert.ok(!a.includes('s3cret'));
    assert.match(a, /^v1\.[0-9a-f]{8}\.[\w-]+\.[\w-]+\.[\w-]+$/);
    assert.equal(cipher.decrypt(a, 'ctx'), 's3cret-value');
    assert.equal(cipher.decrypt(cipher.encrypt('', 'ctx'), 'ctx'), '');
  });

  it('refuses a tampered ciphertext, IV, tag or key id', () => {
    const cipher = createDataCipher([key()]);
    const stored = cipher.encrypt('value', 'ctx');
    const parts = stored.split('.');
    const flip = (text: string) => {
      const bytes = Buffer.from(text, 'base64url');
      bytes[0] = (bytes[0] ?? 0) ^ 1;
      return bytes.toString('base64url');
    };
    for (const index of [2, 3, 4]) {
      const tampered = parts.map((part, i) => (i === index ? flip(part) : part)).join('.');
      assert.throws(() => cipher.decrypt(tampered, 'ctx'), DecryptionError);
    }
    assert.throws(
      () => cipher.decrypt(['v1', '00000000', ...parts.slice(2)].join('.'), 'ctx'),
      DecryptionError,
    );
    assert.throws(() => cipher.decrypt('plain text', 'ctx'), DecryptionError);
    assert.throws(() => cipher.decrypt(`${stored}.extra`, 'ctx'), DecryptionError);
  });

  it('binds each value to its context: a ciphertext moved to another row or tenant fails', () => {
    const cipher = createDataCipher([key()]);
    const stored = cipher.encrypt('value', 'firs:tenant-a');
    assert.throws(() => cipher.decrypt(stored, 'firs:tenant-b'), DecryptionError);
  });

  it('rotation: the first key encrypts, every listed key decrypts, a removed key no longer does', () => {
    const oldKey = key();
    const newKey = key();
    const before = createDataCipher([oldKey]);
    const stored = before.encrypt('value', 'ctx');
    const rotated = createDataCipher([newKey, oldKey]);
    assert.equal(rotated.decrypt(stored, 'ctx'), 'value');
    const fresh = rotated.encrypt('value', 'ctx');
    assert.equal(rotated.keyIdOf(fresh), keyId(newKey));
    assert.equal(rotated.keyIdOf(stored), keyId(oldKey));
    const retired = createDataCipher([newKey]);
    assert.equal(retired.decrypt(fresh, 'ctx'), 'value');
    assert.throws(() => retired.decrypt(stored, 'ctx'), /not configured/);
  });

  it('DATA_ENCRYPTION_KEY: base64 of exactly 32 bytes each, comma-separated; required on Vercel', () => {
    const good = [key().toString('base64'), key().toString('base64')];
    assert.equal(parseDataKeys(good).length, 2);
    assert.deepEqual(
      loadConfig({ ADMIN_KEY: ADMIN, DATA_ENCRYPTION_KEY: good.join(',') }).dataEncryptionKeys,
      good,
    );
    assert.deepEqual(loadConfig({ ADMIN_KEY: ADMIN }).dataEncryptionKeys, []);
    for (const bad of [randomBytes(16).toString('base64'), 'not base64!', `${good[0]},short`]) {
      assert.throws(
        () => loadConfig({ ADMIN_KEY: ADMIN, DATA_ENCRYPTION_KEY: bad }),
        (error: unknown) => error instanceof ConfigError && /DATA_ENCRYPTION_KEY/.test(error.message),
      );
    }
    const vercel = {
      ADMIN_KEY: ADMIN,
      VERCEL_ENV: 'production',
      DATABASE_URL: 'postgres://u@db.example.com/db',
      UPSTASH_REDIS_REST_URL: 'https://r.example.com',
      UPSTASH_REDIS_REST_TOKEN: 't',
      JWT_PRIVATE_KEYS: '[]',
      APP_URL: 'https://auth.example.com',
    };
    assert.throws(() => loadConfig(vercel), /DATA_ENCRYPTION_KEY is required on Vercel/);
    assert.equal(loadConfig({ ...vercel, DATA_ENCRYPTION_KEY: good[0] ?? '' }).production, true);
  });

  it('FIRS OAuth settings: the token URL needs the client id and secret', () => {
    assert.equal(loadConfig({ ADMIN_KEY: ADMIN }).firsOAuth, null);
    assert.throws(
      () => loadConfig({ ADMIN_KEY: ADMIN, FIRS_OAUTH_TOKEN_URL: 'https://firs.example/token' }),
      /FIRS_OAUTH_CLIENT_ID is required with FIRS_OAUTH_TOKEN_URL/,
    );
    const config = loadConfig({
      ADMIN_KEY: ADMIN,
      FIRS_OAUTH_TOKEN_URL: 'https://firs.example/token',
      FIRS_OAUTH_CLIENT_ID: 'id',
      FIRS_OAUTH_CLIENT_SECRET: 'secret',
    });
    assert.deepEqual(config.firsOAuth, {
      tokenUrl: 'https://firs.example/token',
      clientId: 'id',
      clientSecret: 'secret',
      timeoutMs: 5000,
    });
  });
});
