/**
 * `npm run build:functions` bundles each function of the manifest, and the bundle is what Vercel
 * deploys: each file under api/ re-exports its function's bundle, the bundle carries neither PGlite nor
 * the dependencies only some requests load (they stay in chunks read on first use), and, run in a plain
 * Node process with no tsx and no sources, the bundles answer real requests — validation, the database
 * through Kysely and the migrations found from the bundle's own folder (embedded mode, in memory).
 * `npm run check:vercel` checks the same bundles inside a real `vercel build`.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import type { Metafile } from 'esbuild';
import { functionManifest } from '../../lib/endpoints.js';
import {
  buildFunctions,
  bundleName,
  EMBEDDED_ONLY,
  FUNCTIONS_DIR,
  type FunctionBundle,
  familiesModule,
  METAFILE,
} from '../../scripts/build-functions.js';
import { projectRoot } from '../../scripts/vercel-local.js';
import { TEST_ADMIN_KEY } from '../support/backends.js';

/** Dependencies that no function needs at import: each is loaded by the request that uses it. */
const LOADED_WHEN_USED = [
  'nodemailer',
  'pg',
  '@neondatabase/serverless',
  'ws',
  'zod-openapi',
  '@zxcvbn-ts/language-common',
  'bcryptjs',
  '@vercel/functions',
  // Signs and verifies tokens: an API-key or admin-key request, a health check, never loads it.
  'jose',
  ...EMBEDDED_ONLY,
];

/**
 * Node's modules that no function loads at import (docs/decisions/0038): node:https/node:http are
 * loaded, by the URL's scheme, when the Upstash client is made; node:dns/promises by the first URL
 * saved; zlib never (the API-key checksum is computed in lib/keys/key-format.ts).
 */
const NODE_MODULES_LOADED_WHEN_USED = ['http', 'https', 'tls', 'net', 'dns/promises', 'zlib'];

const files = Object.keys(functionManifest);
// Two folders below the project, like dist/functions (see scripts/build-functions.ts).
mkdirSync(join(projectRoot, 'dist'), { recursive: true });
const outdir = mkdtempSync(join(projectRoot, 'dist', 'test-functions-'));
let bundles: FunctionBundle[] = [];

describe('npm run build:functions', () => {
  before(async () => {
    bundles = await buildFunctions(outdir);
  });
  after(() => rmSync(outdir, { recursive: true, force: true }));

  it('makes one bundle per function, and each file under api/ re-exports its own', () => {
    assert.deepEqual(
      bundles.map((bundle) => bundle.file),
      files,
    );
    for (const file of files) {
      const shim = readFileSync(join(projectRoot, file), 'utf8');
      const specifiers = [...shim.matchAll(/^export \* from '([^']+)';$/gm)].map((match) => match[1]);
      assert.equal(specifiers.length, 1, `${file} re-exports exactly one module`);
      const target = join(dirname(join(projectRoot, file)), specifiers[0] as string);
      assert.equal(
        relative(projectRoot, target),
        relative(projectRoot, join(FUNCTIONS_DIR, `${bundleName(file)}.mjs`)),
        file,
      );
    }
  });

  it('reads at import neither PGlite nor what only some requests use', () => {
    for (const bundle of bundles) {
      const packages = new Set(
        bundle.inputs.flatMap((input) => /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input)?.[1] ?? []),
      );
      for (const name of LOADED_WHEN_USED)
        assert.ok(!packages.has(name), `${bundle.file} loads ${name} at import`);
      // `import * as z from 'zod'` lets the bundler drop what is unused; `import { z }` drags in every
      // locale of zod's error messages (and its JSON Schema converters), a third of the bytes read.
      const locales = bundle.inputs.filter((input) =>
        /node_modules\/zod\/v4\/locales\/(?!en\.js)/.test(input),
      );
      assert.deepEqual(locales, [], `${bundle.file} bundles zod's locales`);
      // Migrations run in the build and in embedded mode, never in a deployed function's request.
      assert.ok(!bundle.inputs.includes('lib/db/migrate.ts'), `${bundle.file} loads the migrator at import`);
      assert.ok(packages.has('kysely') && packages.has('zod'), `${bundle.file} bundles its dependencies`);
    }
  });

  it('reads at import only the endpoint families of its own function', () => {
    // Each function's families (lib/api/…) are all a bundle loads of lib/**/*.endpoints.ts: auth never
    // compiles the tenants' code, and meta loads the families of its OpenAPI document on request.
    const endpointModules = (inputs: readonly string[]) =>
      inputs.filter((input) => /^lib\/.*\.endpoints\.ts$/.test(input)).sort();
    const metafile = JSON.parse(readFileSync(join(outdir, METAFILE), 'utf8')) as Metafile;
    const byFile = new Map(bundles.map((bundle) => [bundle.file, endpointModules(bundle.inputs)]));
    for (const bundle of bundles) {
      const own = (metafile.inputs[familiesModule(bundle.file)]?.imports ?? []).map(
        (imported) => imported.path,
      );
      assert.deepEqual(byFile.get(bundle.file), endpointModules(own), bundle.file);
    }
    assert.deepEqual(byFile.get('api/meta.js'), ['lib/meta/meta.endpoints.ts']);
    assert.deepEqual(byFile.get('api/v1/auth.js'), [
      'lib/identity/auth.endpoints.ts',
      'lib/resources/firs-oauth.endpoints.ts',
    ]);
    assert.ok(byFile.get('api/v1/core.js')?.includes('lib/tenants/tenants.endpoints.ts'));
  });

  it("reads none of Node's fetch globals at import (the platform loads them for the first request)", () => {
    // Node defines Response, Request, Headers and FormData as getters that load undici (~30 ms of CPU) on
    // first read; a class that `extends Response` at module level would pay that in every cold import
    // (the pipeline builds its Response per answer: lib/http/exchange.ts). A bare function pays it on its first
    // request, when Vercel's launcher builds the Request; so should ours.
    for (const bundle of bundles) {
      const script = `
        const names = ['Response', 'Request', 'Headers', 'FormData'];
        const unread = () => names.filter((name) => 'get' in Object.getOwnPropertyDescriptor(globalThis, name));
        const before = unread();
        await import(${JSON.stringify(pathToFileURL(bundle.entry).href)});
        console.log(JSON.stringify({ before, after: unread() }));
      `;
      const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
        cwd: outdir,
        encoding: 'utf8',
        env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'silent' },
      });
      assert.equal(result.status, 0, result.stderr);
      const { before, after } = JSON.parse(result.stdout.trim().split('\n').at(-1) as string);
      assert.equal(before.length, 4, 'the globals start unread');
      assert.deepEqual(after, before, `${bundle.file} reads a fetch global at import`);
    }
  });

  it("loads none of Node's network, TLS, DNS and zlib modules at import", () => {
    for (const bundle of bundles) {
      const script = `
        const before = new Set(process.moduleLoadList);
        await import(${JSON.stringify(pathToFileURL(bundle.entry).href)});
        console.log(JSON.stringify(process.moduleLoadList.filter((name) => !before.has(name))));
      `;
      const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
        cwd: outdir,
        encoding: 'utf8',
        env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'silent' },
      });
      assert.equal(result.status, 0, result.stderr);
      const loaded: string[] = JSON.parse(result.stdout.trim().split('\n').at(-1) as string);
      // The check can fail: node:crypto, which every function loads, is in the list.
      assert.ok(loaded.includes('NativeModule crypto'), loaded.join(', '));
      for (const name of NODE_MODULES_LOADED_WHEN_USED)
        assert.ok(!loaded.includes(`NativeModule ${name}`), `${bundle.file} loads node:${name} at import`);
    }
  });

  it('serves requests from the bundles alone, in a plain Node process', () => {
    const entries = Object.fromEntries(
      bundles.map((bundle) => [bundle.file, pathToFileURL(bundle.entry).href]),
    );
    const script = `
      const entries = ${JSON.stringify(entries)};
      const meta = await import(entries['api/meta.js']);
      const auth = await import(entries['api/v1/auth.js']);
      const core = await import(entries['api/v1/core.js']);
      const answer = async (response) => ({ status: response.status, type: response.headers.get('content-type'), body: await response.json().catch(() => null) });
      const url = (path) => new URL(path, 'https://heir.test');
      console.log(JSON.stringify({
        health: await answer(await meta.GET(new Request(url('/api/health')))),
        jwks: await answer(await meta.GET(new Request(url('/.well-known/jwks.json')))),
        login: await answer(await auth.POST(new Request(url('/v1/auth'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }))),
        tenants: await answer(await core.GET(new Request(url('/v1/tenants'), { headers: { 'x-admin-key': ${JSON.stringify(TEST_ADMIN_KEY)} } }))),
        unknown: await answer(await core.GET(new Request(url('/v1/nope')))),
      }));
      process.exit(0);
    `;
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: outdir,
      encoding: 'utf8',
      env: {
        PATH: process.env.PATH ?? '',
        DATA_DIR: 'memory',
        ADMIN_KEY: TEST_ADMIN_KEY,
        LOG_LEVEL: 'silent',
      },
    });
    assert.equal(result.status, 0, result.stderr);
    const answers = JSON.parse(result.stdout.trim().split('\n').at(-1) as string);
    assert.equal(answers.health.status, 200, JSON.stringify(answers.health));
    // jose, in a chunk of its own, loaded by the first request that needs the keys.
    assert.equal(answers.jwks.status, 200, JSON.stringify(answers.jwks));
    assert.equal(answers.jwks.body?.keys?.length, 1, JSON.stringify(answers.jwks.body));
    assert.equal(answers.login.status, 422, JSON.stringify(answers.login));
    assert.equal(answers.login.type, 'application/problem+json');
    assert.equal(answers.tenants.status, 200, JSON.stringify(answers.tenants));
    assert.ok(Array.isArray(answers.tenants.body?.data), JSON.stringify(answers.tenants.body));
    assert.equal(answers.unknown.status, 404);
    assert.equal(answers.unknown.body?.code, 'not_found');
  });
});
