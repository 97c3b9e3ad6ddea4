/**
 * The first hour on a new machine: `npm run db:migrate` ends when its work is done (on a new and on
 * an existing embedded DATA_DIR, and against Postgres), skips with a message in a Vercel build without
 * a database, and local scripts read `.env.local` and `.env` with real environment variables winning.
 * A run that hangs is killed by the timeout and fails (signal instead of an exit code).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createScratchDatabase } from '../support/backends.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const { DATABASE_URL } = process.env;
const temp = mkdtempSync(join(tmpdir(), 'heir-scripts-'));
after(() => rmSync(temp, { recursive: true, force: true }));

function run(script: string, env: Record<string, string>, args: string[] = []) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', NO_ENV_FILES: '1', ...env },
    timeout: 240_000,
  });
  return { status: result.status, signal: result.signal, out: `${result.stdout}${result.stderr}` };
}

describe('npm run db:migrate ends when its work is done', () => {
  it('on a new embedded DATA_DIR, then again on the existing one', () => {
    const dataDir = join(temp, 'data');
    const first = run('scripts/migrate.ts', { DATA_DIR: dataDir });
    assert.deepEqual([first.status, first.signal], [0, null], first.out);
    assert.match(first.out, /applied 0001_initial/);
    const second = run('scripts/migrate.ts', { DATA_DIR: dataDir });
    assert.deepEqual([second.status, second.signal], [0, null], second.out);
    assert.match(second.out, /already up to date/);
  });

  it('against Postgres, through the direct URL when one is given', {
    skip: DATABASE_URL ? false : 'no Postgres: DATABASE_URL not set',
  }, async () => {
    const scratch = await createScratchDatabase(DATABASE_URL as string);
    try {
      const result = run('scripts/migrate.ts', {
        DATABASE_URL: scratch.url,
        DATABASE_URL_UNPOOLED: scratch.url,
      });
      assert.deepEqual([result.status, result.signal], [0, null], result.out);
      assert.match(result.out, /migrating the Postgres database .*heir_test_\w+/);
      assert.doesNotMatch(result.out, /postgres@/, 'no credentials or user in the output');
      const other = new URL(scratch.url);
      other.pathname = '/postgres';
      const refused = run('scripts/migrate.ts', {
        DATABASE_URL: scratch.url,
        DATABASE_URL_UNPOOLED: other.toString(),
      });
      assert.equal(refused.status, 1, refused.out);
      assert.match(refused.out, /DATABASE_URL_UNPOOLED names another database/);
    } finally {
      await scratch.drop();
    }
  });

  it('skips with a message in a Vercel build without a database', () => {
    const result = run('scripts/migrate.ts', { VERCEL: '1', VERCEL_ENV: 'preview' });
    assert.equal(result.status, 0, result.out);
    assert.match(result.out, /no DATABASE_URL .*skipping/);
  });
});

describe('.env.local and .env', () => {
  const project = join(temp, 'project');
  const probe = (env: Record<string, string>) => {
    const code = `const { loadEnvFiles } = await import(${JSON.stringify(join(root, 'scripts/load-env.ts'))});
      const files = loadEnvFiles(${JSON.stringify(project)});
      console.log(JSON.stringify({ files, a: process.env.A, b: process.env.B, c: process.env.C }));`;
    const result = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
      cwd: root,
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '', ...env },
    });
    assert.equal(result.status, 0, result.stderr);
    return JSON.parse(result.stdout) as Record<string, unknown>;
  };

  it('reads both, .env.local over .env, and the environment over both', () => {
    rmSync(project, { recursive: true, force: true });
    mkdirSync(project, { recursive: true });
    writeFileSync(join(project, '.env'), 'A=from-env-file\nB=from-env-file\nC=from-env-file\n');
    writeFileSync(join(project, '.env.local'), 'A=from-env-local\n');
    assert.deepEqual(probe({ C: 'from-environment' }), {
      files: ['.env.local', '.env'],
      a: 'from-env-local',
      b: 'from-env-file',
      c: 'from-environment',
    });
  });

  it('reads neither on Vercel, where the platform sets the environment', () => {
    assert.deepEqual(probe({ VERCEL: '1' }), { files: [] });
  });
});
