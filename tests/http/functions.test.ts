/**
 * The function manifest (lib/endpoints.ts) is the one home of the Vercel functions: each file it names
 * exists under api/ (a re-export of its bundle, tests/scripts/build-functions.test.ts) and the function
 * mounts exactly its families (mountFunction, on the sources), no other file under api/ is a function,
 * the count stays within Hobby's 12, and every declared endpoint routes through vercel.json (compiled
 * by Vercel's own @vercel/routing-utils, scripts/vercel-local.ts) to the function that mounts it.
 */
import assert from 'node:assert/strict';
import { join, relative, sep } from 'node:path';
import { before, describe, it } from 'node:test';
import { allEndpoints, endpointsOf, type FunctionFile, functionManifest } from '../../lib/endpoints.js';
import type { Endpoint } from '../../lib/http/endpoint.js';
import { buildPortal } from '../../scripts/build-portal.js';
import { createVercelRouter, functionExports, projectRoot } from '../../scripts/vercel-local.js';

const vercel = createVercelRouter();
const files = Object.keys(functionManifest) as FunctionFile[];
const name = (endpoint: Endpoint) => `${endpoint.method} ${endpoint.path}`;
const fileOf = (absolute: string) => relative(projectRoot, absolute).split(sep).join('/');

/** The URLs a client may use for a path: /v1/… and /api/v1/…, with and without a trailing slash. */
function urlsFor(path: string): string[] {
  const concrete = path.replace(/\{\w+\}/g, '3f1c2b7e-8d4a-4c1e-9b2f-6a5d4e3c2b1a');
  const forms =
    concrete.startsWith('/v1/') || concrete === '/v1' ? [concrete, `/api${concrete}`] : [concrete];
  return forms.flatMap((form) => [form, `${form}/`]);
}

describe('function manifest', () => {
  it('names exactly the function files under api/, at most 12', () => {
    const onDisk = [...vercel.functions.values()].map(fileOf).sort();
    assert.deepEqual(onDisk, [...files].sort());
    assert.ok(files.length <= 12);
  });

  it('each function mounts exactly the endpoints of its families; each endpoint is mounted once', async () => {
    const seen = new Map<string, string>();
    for (const file of files) {
      const { router } = await functionExports(join(projectRoot, file));
      assert.deepEqual(router.endpoints.map(name).sort(), endpointsOf(file).map(name).sort(), file);
      for (const endpoint of endpointsOf(file)) {
        assert.ok(
          !seen.has(name(endpoint)),
          `${name(endpoint)} is mounted by ${seen.get(name(endpoint))} and ${file}`,
        );
        seen.set(name(endpoint), file);
        const prefixes: readonly string[] = functionManifest[file].prefixes;
        assert.ok(
          prefixes.some((prefix) => endpoint.path === prefix || endpoint.path.startsWith(`${prefix}/`)),
          `${name(endpoint)} is outside the prefixes of ${file}`,
        );
      }
    }
    assert.equal(seen.size, allEndpoints().length);
  });

  it('every declared path, in every form, routes through vercel.json to the function that mounts it', async () => {
    for (const file of files) {
      const { router } = await functionExports(join(projectRoot, file));
      for (const endpoint of endpointsOf(file)) {
        for (const url of urlsFor(endpoint.path)) {
          const resolved = vercel.resolve(new URL(url, 'https://heir.test'));
          assert.equal(resolved.kind, 'function', `${endpoint.method} ${url} reaches no function`);
          if (resolved.kind !== 'function') continue;
          assert.equal(fileOf(resolved.file), file, `${endpoint.method} ${url}`);
          assert.equal(
            router.match(endpoint.method, resolved.url.pathname).kind,
            'found',
            `${endpoint.method} ${url}`,
          );
        }
      }
    }
  });

  it('each function is reached by a vercel.json rewrite, not only by its own file path', () => {
    for (const file of files) {
      for (const prefix of functionManifest[file].prefixes) {
        const sample = prefix === '/v1' ? '/v1/some-future-family/x' : `${prefix}/`;
        const resolved = vercel.resolve(new URL(sample, 'https://heir.test'));
        assert.equal(resolved.kind, 'function', sample);
        if (resolved.kind === 'function') assert.equal(fileOf(resolved.file), file, sample);
      }
    }
  });
});

describe('developer portal routing', () => {
  // The portal's pages are built output (not committed): build them as Vercel's build step would.
  before(() => buildPortal());

  it('serves the portal and the reset page (the link in reset mails) as static files, with the CSP', () => {
    const router = createVercelRouter();
    const expected: Record<string, string> = {
      '/portal': 'public/portal/index.html',
      '/portal/': 'public/portal/index.html',
      '/reset-password': 'public/reset-password/index.html',
      '/reset-password/': 'public/reset-password/index.html',
      '/app/portal.js': 'public/app/portal.js',
      '/app/portal.css': 'public/app/portal.css',
    };
    for (const [path, file] of Object.entries(expected)) {
      const resolved = router.resolve(new URL(path, 'https://heir.test'));
      assert.equal(resolved.kind, 'static', path);
      if (resolved.kind === 'static') assert.equal(fileOf(resolved.file), file, path);
      assert.match(
        resolved.headers['content-security-policy'] ?? '',
        /script-src 'self'; style-src 'self'/,
        path,
      );
    }
  });
});
