import ipaddr from 'ipaddr.js';
import * as z from 'zod';
import { lazy } from '../lazy.js';
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
export const ipAllowListSchema = lazy(() =>
  z
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
    .meta({ description: 'IPv4/IPv6 addresses and CIDR ranges (at most 50); empty = any IP.' }),
);

/**
 * A (normalised) allow-list parsed once, so that checking a client IP costs one parse of that IP and
 * a bit comparison per entry: the key cache keeps this next to the record (lib/keys/verify.ts), and
 * re-parsing every entry on every request cost more than all the other checks of a key together.
 */
export interface AllowList {
  /** Whether `ip` falls in any entry. An empty list admits every IP, even an unknown (null) one. */
  admits(ip: string | null): boolean;
}

const ADMITS_ANY: AllowList = { admits: () => true };

export function compileAllowList(entries: readonly string[]): AllowList {
  if (entries.length === 0) return ADMITS_ANY;
  // A single address is the range of all its bits (/32, /128): one rule, one comparison.
  const ranges = entries.map((entry) => {
    if (entry.includes('/')) return ipaddr.parseCIDR(entry);
    const address = ipaddr.parse(entry);
    return [address, address.kind() === 'ipv4' ? 32 : 128] as [Address, number];
  });
  return {
    admits(ip) {
      if (ip === null) return false;
      let client: Address;
      try {
        // What ipaddr.parse does, without validating first and then parsing again: only IPv6 has ':'.
        client = asIpv4IfMapped(ip.includes(':') ? ipaddr.IPv6.parse(ip) : ipaddr.IPv4.parse(ip));
      } catch {
        return false; // not an address at all
      }
      return ranges.some(
        ([network, bits]) => network.kind() === client.kind() && client.match(network, bits),
      );
    },
  };
}

/** Whether `ip` falls in any entry of a (normalised) allow-list. An empty list admits every IP. */
export function ipAllowed(ip: string | null, allowList: readonly string[]): boolean {
  return compileAllowList(allowList).admits(ip);
}
