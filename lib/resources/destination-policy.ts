import ipaddr from 'ipaddr.js';

/**
 * The SSRF rule for every URL the service will later call on a tenant's behalf (webhook
 * subscriptions, event routes), applied when the URL is saved (docs/decisions/0026): https only, no
 * user info, and a host that is — or resolves, every address of it, to — a public unicast address.
 * ipaddr.js's `range()` names the rest: private, loopback, link-local (169.254.169.254, the cloud
 * metadata address, among them), carrier-grade NAT (100.100.100.200, Alibaba's metadata), unique-local
 * (fd00:ec2::254, AWS's IPv6 metadata), multicast, unspecified, broadcast, reserved, and the
 * translation prefixes (IPv4-mapped is judged by the IPv4 address it carries).
 */

export type Resolve = (host: string) => Promise<readonly string[]>;

/**
 * node:dns, every address of the host (A and AAAA). Loaded here, on the first URL saved, not at import:
 * no other request resolves names (docs/decisions/0038).
 */
export const resolveWithDns: Resolve = async (host) => {
  const { lookup } = await import('node:dns/promises');
  return (await lookup(host, { all: true, verbatim: true })).map((entry) => entry.address);
};

/** Names that are internal whatever they resolve to where the check runs. */
const INTERNAL_NAMES = /(^|\.)(localhost|internal|local|localdomain|home\.arpa)$/i;

/** Why `address` may not be called, or null when it is a public unicast address. */
export function refusedAddress(address: string): string | null {
  if (!ipaddr.isValid(address)) return 'is not an IP address';
  let parsed = ipaddr.parse(address);
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) {
    parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  }
  const range = parsed.range();
  return range === 'unicast' ? null : `is a ${range} address`;
}

/** Why `url` may not be a destination (a message for the 422), or null when it may. */
export async function refusedDestination(
  url: string,
  resolve: Resolve = resolveWithDns,
): Promise<string | null> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'must be an absolute URL';
  }
  if (parsed.protocol !== 'https:') return 'must be an https URL';
  if (parsed.username || parsed.password) return 'must not carry user info';
  // Brackets of an IPv6 literal and the trailing dot of a fully qualified name (`localhost.`) go.
  const host = parsed.hostname.replace(/^\[|\]$/g, '').replace(/\.$/, '');
  if (ipaddr.isValid(host)) {
    // Only canonical literals: `http://2130706433/` and `0x7f.1` are normalised by URL already; this
    // refuses what remains odd.
    const reason = refusedAddress(host);
    return reason ? `host ${reason}` : null;
  }
  if (INTERNAL_NAMES.test(host) || !host.includes('.')) return 'host is an internal name';
  let addresses: readonly string[];
  try {
    addresses = await resolve(host);
  } catch {
    return 'host does not resolve';
  }
  if (addresses.length === 0) return 'host does not resolve';
  for (const address of addresses) {
    const reason = refusedAddress(address);
    if (reason) return `host resolves to an address that ${reason}`;
  }
  return null;
}
