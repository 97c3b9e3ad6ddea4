/**
 * `npm run seed` makes a fresh database usable with nothing but itself: a demo tenant and owner whose
 * printed temporary password really sets a password and logs in. Running it again changes nothing;
 * in production it is refused before touching anything. On Postgres (a scratch database) when
 * DATABASE_URL is set; embedded (in memory) always.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createApp } from '../../lib/app.js';
import { loadConfig } from '../../lib/config.js';
import { createScratchDatabase, TEST_ADMIN_KEY } from '../support/backends.js';
import { call } from '../support/client.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const { DATABASE_URL } = process.env;

function seed(env: Record<string, string>) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/seed.ts'], {
    cwd: root,
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', NO_ENV_FILES: '1', LOG_LEVEL: 'silent', ...env },
  });
  return { status: result.status, out: `${result.stdout}${result.stderr}` };
}

describe('npm run seed', () => {
  it('is refused in production, before opening any database', () => {
    const run = seed({ VERCEL_ENV: 'production', DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' });
    assert.equal(run.status, 1, run.out);
    assert.match(run.out, /refused — VERCEL_ENV is production/);
  });

  it('seeds the embedded database', () => {
    const run = seed({ DATA_DIR: 'memory' });
    assert.equal(run.status, 0, run.out);
    assert.match(run.out, /created the demo tenant \(local environment, pglite database\)/);
    assert.match(run.out, /owner@demo\.example, temporary password [A-Za-z0-9]{24}\n/);
    assert.match(run.out, /api key heir_pk_[0-9A-Za-z]{36} /);
  });

  it('seeds a fresh Postgres database whose owner can then log in; a second run changes nothing', {
    skip: DATABASE_URL ? false : 'no Postgres: DATABASE_URL not set',
  }, async () => {
    const scratch = await createScratchDatabase(DATABASE_URL as string);
    try {
      const first = seed({ DATABASE_URL: scratch.url });
      assert.equal(first.status, 0, first.out);
      const password = /temporary password ([A-Za-z0-9]{24})\n/.exec(first.out)?.[1];
      const apiKey = /api key (heir_pk_[0-9A-Za-z]{36}) /.exec(first.out)?.[1];
      assert.ok(apiKey, first.out);
      assert.ok(password, first.out);
      const again = seed({ DATABASE_URL: scratch.url });
      assert.equal(again.status, 0, again.out);
      assert.match(again.out, /exists already/);

      const app = await createApp(
        loadConfig({ ADMIN_KEY: TEST_ADMIN_KEY, LOG_LEVEL: 'silent', DATABASE_URL: scratch.url }),
      );
      try {
        const res = await call(app, 'POST', '/v1/auth/set-password', {
          json: {
            email: 'owner@demo.example',
            temporary_password: password,
            new_password: 'a long passphrase 42',
          },
        });
        assert.equal(res.status, 200, res.text);
        const me = await call(app, 'GET', '/v1/auth/me', {
          headers: { authorization: `Bearer ${res.body.access_token}` },
        });
        assert.equal(me.body.tenant.slug, 'demo');
        const asKey = await call(app, 'GET', `/v1/tenants/${me.body.tenant.id}`, {
          headers: { 'x-api-key': apiKey as string },
        });
        assert.equal(asKey.status, 200, asKey.text);
        const tenants = await call(app, 'GET', '/v1/tenants', { headers: { 'x-admin-key': TEST_ADMIN_KEY } });
        assert.equal(tenants.body.data.length, 1, 'the second run added nothing');
      } finally {
        await app.close();
      }
    } finally {
      await scratch.drop();
    }
  });
});
