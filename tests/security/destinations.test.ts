/**
 * The SSRF rule (lib/resources/destination-policy.ts) for webhook URLs and event routes: every address
 * class that reaches the platform's own network or a cloud metadata service is refused, as an IP
 * literal in any spelling URL parsing accepts and as the resolution of a host name (every address of
 * it). Host resolution is node:dns in the service; here a resolver stands in for DNS answers an
 * attacker controls.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { refusedAddress, refusedDestination } from '../../lib/resources/destination-policy.js';

const REFUSED_ADDRESSES = [
  ['127.0.0.1', 'loopback'],
  ['10.1.2.3', 'private'],
  ['172.16.0.1', 'private'],
  ['192.168.1.1', 'private'],
  ['169.254.169.254', 'link-local: AWS/GCP/Azure metadata'],
  ['100.100.100.200', 'carrier-grade NAT: Alibaba metadata'],
  ['100.64.0.1', 'carrier-grade NAT'],
  ['0.0.0.0', 'unspecified'],
  ['255.255.255.255', 'broadcast'],
  ['224.0.0.1', 'multicast'],
  ['::1', 'loopback'],
  ['::', 'unspecified'],
  ['fe80::1', 'link-local'],
  ['fd00:ec2::254', 'unique-local: AWS IPv6 metadata'],
  ['fc00::1', 'unique-local'],
  ['ff02::1', 'multicast'],
  ['::ffff:127.0.0.1', 'IPv4-mapped loopback'],
  ['::ffff:169.254.169.254', 'IPv4-mapped metadata'],
  ['64:ff9b::a9fe:a9fe', 'NAT64 of the metadata address'],
  ['2002:a9fe:a9fe::', '6to4 of the metadata address'],
] as const;

const publicResolver = (addresses: string[]) => async () => addresses;

describe('the SSRF rule for saved destinations', () => {
  for (const [address, what] of REFUSED_ADDRESSES) {
    it(`refuses ${address} (${what}) as a literal and as a resolved address`, async () => {
      assert.notEqual(refusedAddress(address), null);
      const literal = address.includes(':') ? `[${address}]` : address;
      assert.notEqual(await refusedDestination(`https://${literal}/hook`), null);
      assert.notEqual(
        await refusedDestination('https://hooks.example.com/x', publicResolver([address])),
        null,
      );
      // One private address among public ones is enough (DNS rebinding picks any of them).
      assert.notEqual(
        await refusedDestination('https://hooks.example.com/x', publicResolver(['93.184.216.34', address])),
        null,
      );
    });
  }

  it('refuses other spellings of loopback and metadata that URL parsing normalises', async () => {
    for (const url of [
      'https://2130706433/',
      'https://0x7f.0.0.1/',
      'https://0177.0.0.1/',
      'https://127.1/',
      'https://0xa9fea9fe/',
      'https://[::ffff:7f00:1]/',
    ]) {
      assert.notEqual(await refusedDestination(url, publicResolver(['93.184.216.34'])), null, url);
    }
  });

  it('refuses internal names without resolving them, plain http, user info and unresolvable hosts', async () => {
    const never = async () => assert.fail('must not resolve');
    for (const url of [
      'https://localhost/',
      'https://localhost./',
      'https://metadata.google.internal./',
      'https://metadata.google.internal/computeMetadata/v1/',
      'https://printer.local/',
      'https://intranet/',
    ]) {
      assert.notEqual(await refusedDestination(url, never), null, url);
    }
    assert.equal(await refusedDestination('http://93.184.216.34/'), 'must be an https URL');
    assert.equal(await refusedDestination('https://user:pw@93.184.216.34/'), 'must not carry user info');
    assert.equal(await refusedDestination('not a url'), 'must be an absolute URL');
    const failing = async () => {
      throw new Error('ENOTFOUND');
    };
    assert.equal(await refusedDestination('https://nowhere.example.com/', failing), 'host does not resolve');
    assert.equal(
      await refusedDestination('https://nowhere.example.com/', publicResolver([])),
      'host does not resolve',
    );
  });

  it('admits public unicast destinations', async () => {
    assert.equal(await refusedDestination('https://93.184.216.34/hook'), null);
    assert.equal(await refusedDestination('https://[2606:4700::1]:8443/hook'), null);
    assert.equal(
      await refusedDestination(
        'https://hooks.example.com/x',
        publicResolver(['93.184.216.34', '2606:4700::1']),
      ),
      null,
    );
  });
});
