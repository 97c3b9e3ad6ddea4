import ipaddr from 'ipaddr.js';
import type { HeaderReader } from './exchange.js';

/**
 * The client's IP. On Vercel, `x-real-ip` and the first `x-forwarded-for` entry are set by the edge
 * (a client cannot forge them there); the local server sets them from the socket the same way.
 * IPv4-mapped IPv6 addresses are reduced to IPv4 so that allow-lists and limits see one form.
 */
export function clientIp(headers: HeaderReader): string | null {
  const candidates = [headers.get('x-real-ip'), headers.get('x-forwarded-for')?.split(',')[0]];
  for (const candidate of candidates) {
    const value = candidate?.trim();
    if (!value) continue;
    let known = parsed.get(value);
    if (known === undefined) {
      known = ipaddr.isValid(value) ? normaliseIp(value) : null;
      if (parsed.size >= MEMO_SIZE) parsed.clear();
      parsed.set(value, known);
    }
    if (known !== null) return known;
  }
  return null;
}

/** Each request parses the same few addresses: they are parsed once (a bounded memo, pure function). */
const MEMO_SIZE = 1_024;
const parsed = new Map<string, string | null>();

export function normaliseIp(value: string): string {
  const parsed = ipaddr.process(value);
  return parsed.toString();
}
