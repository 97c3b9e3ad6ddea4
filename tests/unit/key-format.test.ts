import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { crc32 as zlibCrc32 } from 'node:zlib';
import fc from 'fast-check';
import {
  checksum,
  crc32,
  generateApiKey,
  hashApiKey,
  parseApiKey,
  randomBase62,
} from '../../lib/keys/key-format.js';
import { API_KEY, TIERS, tierRules } from '../../lib/vocabulary.js';

const tier = fc.constantFrom(...TIERS);

describe('API key format', () => {
  it("computes zlib's CRC-32 over a string's UTF-8 bytes (its own, so no function loads node:zlib)", () => {
    assert.equal(crc32(''), 0);
    assert.equal(crc32('123456789'), 0xcbf43926);
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 64 }), (text) => {
        assert.equal(crc32(text), zlibCrc32(text));
      }),
      { numRuns: 500 },
    );
  });

  it('every generated key has the documented shape, validates, and names its tier', () => {
    fc.assert(
      fc.property(tier, (t) => {
        const key = generateApiKey(t);
        assert.equal(key.length, 44);
        assert.match(key, new RegExp(`^heir_${tierRules[t].code}_[0-9A-Za-z]{36}$`));
        const parsed = parseApiKey(key);
        assert.deepEqual(parsed, { tier: t, prefix: `heir_${tierRules[t].code}_`, last4: key.slice(-4) });
      }),
      { numRuns: 500 },
    );
  });

  it('any single-character change of a valid key is refused', () => {
    const alphabet = [...`${API_KEY.alphabet}_-.~ `];
    fc.assert(
      fc.property(tier, fc.nat({ max: 43 }), fc.constantFrom(...alphabet), (t, position, replacement) => {
        const key = generateApiKey(t);
        fc.pre(key[position] !== replacement);
        const changed = key.slice(0, position) + replacement + key.slice(position + 1);
        assert.equal(parseApiKey(changed), null, `${key} → ${changed}`);
      }),
      { numRuns: 2_000 },
    );
  });

  it('refuses keys that are too short, too long, of an unknown tier, or with a forged checksum', () => {
    const key = generateApiKey('partner');
    for (const bad of [
      key.slice(0, -1),
      `${key}0`,
      `heir_xx_${key.slice(8)}`,
      `${key.slice(0, 38)}000000`,
      key.toLowerCase(),
      ` ${key}`,
      '',
    ]) {
      if (bad === key) continue;
      assert.equal(parseApiKey(bad), null, bad);
    }
    // A body whose checksum is recomputed by someone who knows the algorithm is well-formed: the
    // checksum is not a secret, only a cheap filter (the lookup by hash refuses such a key).
    const body = key.slice(0, 38);
    assert.ok(parseApiKey(`${body}${checksum(body)}`));
  });

  it('draws random characters uniformly (no modulo bias) from the base62 alphabet', () => {
    const sample = randomBase62(62 * 2_000);
    const counts = new Map<string, number>();
    for (const char of sample) counts.set(char, (counts.get(char) ?? 0) + 1);
    assert.equal(counts.size, 62);
    // Expected 2,000 each; a modulo over 256 would give the first 8 characters ~1/32 more.
    // Chi-squared with 61 degrees of freedom: 100 is far beyond p = 0.001 (≈ 100.9 only at 0.001).
    const chi = [...counts.values()].reduce((sum, n) => sum + (n - 2_000) ** 2 / 2_000, 0);
    assert.ok(chi < 120, `chi-squared ${chi.toFixed(1)}`);
  });

  it('stores SHA-256 of the whole key, never the key', () => {
    const key = generateApiKey('public');
    const hash = hashApiKey(key);
    assert.match(hash, /^[0-9a-f]{64}$/);
    assert.ok(!hash.includes(key.slice(8, 20)));
    assert.notEqual(hashApiKey(generateApiKey('public')), hash);
  });
});
