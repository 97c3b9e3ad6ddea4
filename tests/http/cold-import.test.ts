/**
 * A cold start builds no endpoint schema (docs/decisions/0034): each endpoint declares its schemas as
 * functions (defineEndpoint) and the shared ones are `lazy`, so mounting a function imports its
 * families without constructing the hundreds of zod schemas they declare; a request builds its own
 * endpoint's, the OpenAPI document all of them. Counted by the named schemas (`.meta({ id })`) in zod's
 * global registry of a fresh process: none after mounting every function, all of them once read.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { it } from 'node:test';
import { functionManifest } from '../../lib/endpoints.js';
import { projectRoot } from '../../scripts/vercel-local.js';

it('mounting every function builds no named schema; reading the endpoints builds them all', () => {
  const script = `
    import * as z from 'zod';
    import { allEndpoints } from './lib/endpoints.js';
    import { mountFunction } from './lib/functions.js';
    const named = () => Object.keys(z.toJSONSchema(z.globalRegistry, { unrepresentable: 'any' }).schemas).sort();
    for (const file of ${JSON.stringify(Object.keys(functionManifest))}) mountFunction(file);
    const mounted = named();
    for (const endpoint of allEndpoints()) [endpoint.body, endpoint.query, endpoint.params, endpoint.response.schema];
    console.log(JSON.stringify({ mounted, read: named() }));
  `;
  const result = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: projectRoot,
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'silent' },
  });
  assert.equal(result.status, 0, result.stderr);
  const { mounted, read } = JSON.parse(result.stdout.trim().split('\n').at(-1) as string);
  assert.deepEqual(mounted, []);
  for (const id of ['Tenant', 'ApiKey', 'User', 'TeamMember', 'Health', 'Scope'])
    assert.ok(read.includes(id), `${id} in ${read.join(', ')}`);
});
