import ipaddr from 'ipaddr.js';
import * as z from 'zod';
import { KEY_LIMITS } from '../vocabulary.js';

/**
 * A key's IP allow-list: IPv4/IPv6 addresses and CIDR ranges, parsed and matched by ipaddr.js.
 * IPv4-mapped IPv6 (`::ffff:203.0.113.7`) is the IPv4 address it maps, in entries and in clients,
 * so one rule covers both forms. Entries are stored normalised (`203.0.113.0/24`, `2001:db8::/32`).
 */

type Address = ipaddr.IPv4 | ipaddr.IPv6;

function asIpv4IfMapped(address: Address): Address {
  return address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress()
    ? (address as ipaddr.IPv6).toIPv4Address()
    : address;
}

/**
 * Strict forms only: four-part decimal IPv4 (ipaddr.js alone also takes `127.1`, `0x7f.0.0.1` and
 * octal parts, which people misread) and IPv6 without a zone (`%eth0` names a local interface).
 */
function strictAddress(text: string): boolean {
  return ipaddr.IPv4.isValidFourPartDecimal(text) || (ipaddr.IPv6.isValid(text) && !text.includes('%'));
}
function strictCidr(text: string): boolean {
  return (
    ipaddr.IPv4.isValidCIDRFourPartDecimal(text) || (ipaddr.IPv6.isValidCIDR(text) && !text.includes('%'))
  );
}

/** The normalised form of one entry, or null when it is neither an address nor a CIDR range. */
export function normaliseEntry(entry: string): string | null {
  const text = entry.trim();
  try {
    if (text.includes('/')) {
      if (!strictCidr(text)) return null;
      let [address, bits] = ipaddr.parseCIDR(text);
      // A mapped IPv6 range (::ffff:0:0/96 and narrower) is the IPv4 range it maps.
      if (address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress() && bits >= 96) {
        address = (address as ipaddr.IPv6).toIPv4Address();
        bits -= 96;
      }
      // Keep only the network bits: 203.0.113.9/24 is stored (and shown) as 203.0.113.0/24.
      const network =
        address.kind() === 'ipv4'
          ? ipaddr.IPv4.networkAddressFromCIDR(`${address.toString()}/${bits}`)
          : ipaddr.IPv6.networkAddressFromCIDR(`${address.toString()}/${bits}`);
      return `${network.toString()}/${bits}`;
    }
    if (!strictAddress(text)) return null;
    return asIpv4IfMapped(ipaddr.parse(text)).toString();
  } catch {
    return null;
  }
}

/** `ip_whitelist` in request bodies: at most 50 entries, each normalised, duplicates dropped. */
export const ipAllowListSchema = z
  .array(z.string().max(100))
  .max(KEY_LIMITS.maxIpEntries)
  .transform((entries, ctx) => {
    const out: string[] = [];
    entries.forEach((entry, index) => {
      const normalised = normaliseEntry(entry);
      if (normalised === null) {
        ctx.addIssue({ code: 'custom', path: [index], message: 'Not an IPv4/IPv6 address or CIDR range.' });
      } else if (!out.includes(normalised)) {
        out.push(normalised);
      }
    });
    return out;
  })
  .meta({ description: 'IPv4/IPv6 addresses and CIDR ranges (at most 50); empty = any IP.' });

/** Whether `ip` falls in any entry of a (normalised) allow-list. An empty list admits every IP. */
export function ipAllowed(ip: string | null, allowList: readonly string[]): boolean {
  if (allowList.length === 0) return true;
  if (ip === null || !ipaddr.isValid(ip)) return false;
  const client = asIpv4IfMapped(ipaddr.parse(ip));
  return allowList.some((entry) => {
    if (!entry.includes('/')) {
      const allowed = ipaddr.parse(entry);
      return allowed.kind() === client.kind() && allowed.toNormalizedString() === client.toNormalizedString();
    }
    const [network, bits] = ipaddr.parseCIDR(entry);
    return network.kind() === client.kind() && client.match(network, bits);
  });
}
