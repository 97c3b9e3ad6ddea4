import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clientIp } from '../../lib/http/client-ip.js';
import { addressKey } from '../../lib/ratelimit/address-key.js';

describe('addressKey: what per-address limits count a client by', () => {
  it('counts an IPv4 client by its address', () => {
    assert.equal(addressKey('203.0.113.10'), '203.0.113.10');
    assert.notEqual(addressKey('203.0.113.10'), addressKey('203.0.113.11'));
  });

  it('counts an IPv4-mapped IPv6 address as the IPv4 one', () => {
    assert.equal(addressKey('::ffff:203.0.113.10'), '203.0.113.10');
    assert.equal(addressKey('::ffff:cb00:710a'), '203.0.113.10');
  });

  it('counts every address of one IPv6 /64 as one client', () => {
    const a = addressKey('2001:db8:1:2:aaaa:bbbb:cccc:dddd');
    assert.equal(a, '2001:db8:1:2::/64');
    for (const same of ['2001:db8:1:2::1', '2001:0db8:0001:0002:ffff:ffff:ffff:ffff', '2001:DB8:1:2::abc']) {
      assert.equal(addressKey(same), a, same);
    }
    for (const other of ['2001:db8:1:3::1', '2001:db8:1::1', '2001:db9:1:2::1']) {
      assert.notEqual(addressKey(other), a, other);
    }
  });

  it('drops an IPv6 zone', () => {
    assert.equal(addressKey('fe80::1%eth0'), 'fe80::/64');
    assert.equal(addressKey('::1'), '::/64');
  });

  it('puts clients the platform did not name (or named nonsense) in one shared bucket', () => {
    assert.equal(addressKey(null), 'unknown');
    assert.equal(addressKey('not-an-ip'), 'unknown');
  });

  it('leaves the client IP itself whole: audit rows and allow-lists need the full address', () => {
    const headers = new Headers({ 'x-forwarded-for': '2001:db8:1:2:aaaa:bbbb:cccc:dddd' });
    assert.equal(clientIp(headers), '2001:db8:1:2:aaaa:bbbb:cccc:dddd');
    assert.equal(clientIp(new Headers({ 'x-real-ip': '::ffff:198.51.100.7' })), '198.51.100.7');
  });
});
