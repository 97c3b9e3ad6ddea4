import ipaddr from 'ipaddr.js';

/** What an IPv6 client is counted by: one /64 is one host or one customer's LAN (RFC 6177). */
const IPV6_PREFIX_HEXTETS = 4;

/**
 * The identifier every per-address limit counts a client by: an IPv4 address as itself (an
 * IPv4-mapped IPv6 address as the IPv4 one), an IPv6 address by its /64 — a single host is routinely
 * given a whole /64 and can pick a fresh address from it for every request, so counting full
 * addresses would let it rotate past any limit. `null` (the platform did not say) is one shared
 * bucket. Audit rows and allow-lists keep the full address; only the limiters see this.
 */
export function addressKey(ip: string | null): string {
  if (ip === null) return 'unknown';
  let key = keys.get(ip);
  if (key === undefined) {
    key = computeKey(ip);
    if (keys.size >= MEMO_SIZE) keys.clear();
    keys.set(ip, key);
  }
  return key;
}

/** Every request of a client asks for the same key: it is computed once (a bounded memo, pure function). */
const MEMO_SIZE = 1_024;
const keys = new Map<string, string>();

function computeKey(ip: string): string {
  if (!ipaddr.isValid(ip)) return 'unknown';
  const address = ipaddr.process(ip);
  if (address.kind() === 'ipv4') return address.toString();
  const parts = (address as ipaddr.IPv6).parts.slice(0, IPV6_PREFIX_HEXTETS);
  const network = new ipaddr.IPv6([...parts, 0, 0, 0, 0]);
  return `${network.toString()}/64`;
}
