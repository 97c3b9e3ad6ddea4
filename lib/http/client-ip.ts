import ipaddr from 'ipaddr.js';

/**
 * The client's IP. On Vercel, `x-real-ip` and the first `x-forwarded-for` entry are set by the edge
 * (a client cannot forge them there); the local server sets them from the socket the same way.
 * IPv4-mapped IPv6 addresses are reduced to IPv4 so that allow-lists and limits see one form.
 */
export function clientIp(headers: Headers): string | null {
  const candidates = [headers.get('x-real-ip'), headers.get('x-forwarded-for')?.split(',')[0]];
  for (const candidate of candidates) {
    const value = candidate?.trim();
    if (value && ipaddr.isValid(value)) return normaliseIp(value);
  }
  return null;
}

export function normaliseIp(value: string): string {
  const parsed = ipaddr.process(value);
  return parsed.toString();
}
