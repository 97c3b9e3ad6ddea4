/** lib/vocabulary.ts is the one list of tiers, scopes, roles, statuses and secret shapes; all else derives. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { assertNoCredentialsInUrl } from '../../lib/auth/credentials.js';
import { generateApiKey } from '../../lib/keys/key-format.js';
import { redact } from '../../lib/log.js';
import { policies } from '../../lib/ratelimit/policies.js';
import {
  ACTOR_TYPES,
  ROLES,
  SCOPES,
  TENANT_STATUSES,
  TIERS,
  tierRules,
  USER_STATUSES,
} from '../../lib/vocabulary.js';

const schema = readFileSync(new URL('../../schema.sql', import.meta.url), 'utf8');

/** The quoted values of the CHECK on `column` in `table` (IN (...) or <@ ARRAY[...]). */
function checkValues(table: string, column: string): string[] {
  const body =
    new RegExp(`CREATE TABLE IF NOT EXISTS ${table} \\(([\\s\\S]*?)\\n\\);`).exec(schema)?.[1] ?? '';
  const line = body.split('\n').find((l) => l.trim().startsWith(`${column} `)) ?? '';
  const list = /CHECK \(.*?(?:IN \(|ARRAY\[)([^)\]]*)/.exec(line)?.[1];
  assert.ok(list, `no CHECK on ${table}.${column}`);
  return [...list.matchAll(/'([^']*)'/g)].map((m) => m[1] ?? '');
}

describe('the vocabulary', () => {
  it("schema.sql's CHECKs list exactly the vocabulary's values", () => {
    assert.deepEqual(checkValues('tenants', 'max_tier'), [...TIERS]);
    assert.deepEqual(checkValues('tenants', 'status'), [...TENANT_STATUSES]);
    assert.deepEqual(checkValues('users', 'role'), [...ROLES]);
    assert.deepEqual(checkValues('users', 'status'), [...USER_STATUSES]);
    assert.deepEqual(checkValues('api_keys', 'tier'), [...TIERS]);
    assert.deepEqual(checkValues('api_keys', 'scopes'), [...SCOPES]);
    assert.deepEqual(checkValues('api_keys', 'created_by_type'), [...ACTOR_TYPES]);
    assert.deepEqual(checkValues('audit_events', 'actor_type'), [...ACTOR_TYPES]);
  });

  it('tiers: each higher tier carries every scope of the lower ones; only internal carries admin', () => {
    for (const [lower, higher] of [
      ['public', 'partner'],
      ['partner', 'internal'],
    ] as const) {
      for (const scope of tierRules[lower].scopes) assert.ok(tierRules[higher].scopes.includes(scope));
    }
    assert.deepEqual(
      TIERS.filter((t) => (tierRules[t].scopes as readonly string[]).includes('admin')),
      ['internal'],
    );
  });

  it('rate-limit policies are named after the tiers and carry their limits', () => {
    for (const tier of TIERS) {
      assert.equal(policies.tier[tier].name, tier);
      assert.equal(policies.tier[tier].limit, tierRules[tier].limit);
    }
  });

  it('every secret shape is redacted from logs and refused in URLs', () => {
    const secrets = [
      generateApiKey('partner'),
      `rt_${'A'.repeat(43)}`,
      'eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2ln',
    ];
    for (const secret of secrets) {
      const line = JSON.stringify(redact({ message: `got ${secret} here` }));
      assert.ok(!line.includes(secret), line);
      assert.throws(
        () => assertNoCredentialsInUrl(new URL(`https://heir.test/v1/x?q=${secret}`)),
        /Credentials/,
      );
    }
    // A key's public prefix alone is not a secret and is logged as is.
    assert.match(JSON.stringify(redact({ prefix: 'heir_pk_' })), /heir_pk_/);
  });
});
