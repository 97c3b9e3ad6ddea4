import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ipAllowed, ipAllowListSchema, normaliseEntry } from '../../lib/keys/ip-allow-list.js';

/** A reference from first principles: addresses as BigInts, a prefix as the top `bits` of 32 or 128. */
function v4ToBig(octets: readonly number[]): bigint {
  return octets.reduce((acc, octet) => (acc << 8n) | BigInt(octet), 0n);
}
function v6ToBig(groups: readonly number[]): bigint {
  return groups.reduce((acc, group) => (acc << 16n) | BigInt(group), 0n);
}
function inPrefix(address: bigint, network: bigint, bits: number, width: number): boolean {
  const shift = BigInt(width - bits);
  return address >> shift === network >> shift;
}
const v4Text = (octets: readonly number[]) => octets.join('.');
const v6Text = (groups: readonly number[]) => groups.map((g) => g.toString(16)).join(':');

const octets = fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 });
const groups = fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 });

/** An address near `base`: the same high bits for a random length, so matches are common. */
function near<T extends number[]>(base: readonly number[], other: readonly number[], keep: number): T {
  return base.map((value, index) => (index < keep ? value : other[index])) as T;
}

describe('IP allow-list matching agrees with a BigInt reference', () => {
  it('IPv4 CIDR ranges', () => {
    fc.assert(
      fc.property(
        octets,
        octets,
        fc.integer({ min: 0, max: 32 }),
        fc.nat({ max: 4 }),
        (net, other, bits, keep) => {
          const client = near<number[]>(net, other, keep);
          const entry = normaliseEntry(`${v4Text(net)}/${bits}`);
          assert.ok(entry);
          const expected = inPrefix(v4ToBig(client), v4ToBig(net), bits, 32);
          assert.equal(ipAllowed(v4Text(client), [entry]), expected, `${v4Text(client)} in ${entry}`);
          // The IPv4-mapped IPv6 form of the client is the same client.
          assert.equal(ipAllowed(`::ffff:${v4Text(client)}`, [entry]), expected);
        },
      ),
      { numRuns: 3_000 },
    );
  });

  it('IPv6 CIDR ranges', () => {
    fc.assert(
      fc.property(
        groups,
        groups,
        fc.integer({ min: 0, max: 128 }),
        fc.nat({ max: 8 }),
        (net, other, bits, keep) => {
          const client = near<number[]>(net, other, keep);
          const entry = normaliseEntry(`${v6Text(net)}/${bits}`);
          assert.ok(entry);
          const clientText = v6Text(client);
          // Mapped addresses are IPv4 clients: the reference does not apply to them.
          fc.pre(!/^0:0:0:0:0:ffff:/.test(clientText));
          const expected = inPrefix(v6ToBig(client), v6ToBig(net), bits, 128);
          assert.equal(ipAllowed(clientText, [entry]), expected, `${clientText} in ${entry}`);
        },
      ),
      { numRuns: 3_000 },
    );
  });

  it('single addresses match only themselves, in any textual form', () => {
    fc.assert(
      fc.property(octets, octets, (a, b) => {
        const entry = normaliseEntry(v4Text(a));
        assert.ok(entry);
        assert.equal(ipAllowed(v4Text(b), [entry]), v4ToBig(a) === v4ToBig(b));
      }),
    );
    assert.equal(ipAllowed('2001:db8:0:0:0:0:0:1', ['2001:db8::1']), true);
  });
});

describe('IP allow-list entries', () => {
  it('are normalised: network bits only, IPv4-mapped forms as IPv4, duplicates dropped', () => {
    const parsed = ipAllowListSchema().parse([
      '203.0.113.9/24',
      '203.0.113.0/24',
      '::ffff:198.51.100.42',
      '::ffff:198.51.100.0/120',
      '2001:DB8:0:0::1/32',
    ]);
    assert.deepEqual(parsed, ['203.0.113.0/24', '198.51.100.42', '198.51.100.0/24', '2001:db8::/32']);
  });

  it('refuse ambiguous or invalid forms and more than 50 entries', () => {
    for (const bad of [
      '127.1',
      '0x7f.0.0.1',
      '1',
      '1.2.3.4/33',
      'fe80::1%eth0',
      'example.com',
      '',
      '1.2.3.4/',
    ]) {
      assert.equal(normaliseEntry(bad), null, bad);
      assert.equal(ipAllowListSchema().safeParse([bad]).success, false, bad);
    }
    const many = Array.from({ length: 51 }, (_, i) => `10.0.0.${i}`);
    assert.equal(ipAllowListSchema().safeParse(many).success, false);
    assert.equal(ipAllowListSchema().safeParse(many.slice(0, 50)).success, true);
  });

  it('an empty list admits every client; a list admits no client whose IP is unknown', () => {
    assert.equal(ipAllowed('203.0.113.5', []), true);
    assert.equal(ipAllowed(null, []), true);
    assert.equal(ipAllowed(null, ['0.0.0.0/0']), false);
    assert.equal(ipAllowed('not an ip', ['0.0.0.0/0']), false);
    assert.equal(ipAllowed('2001:db8::1', ['0.0.0.0/0']), false, 'an IPv4 range never admits IPv6');
  });
});
