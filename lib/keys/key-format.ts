import { hash, randomBytes } from 'node:crypto';
import { API_KEY, secretShapes, type Tier, tierOfCode, tierRules } from '../vocabulary.js';

/**
 * API keys as API.md §1 describes them: `heir_<tier code>_` + 30 base62 characters from a CSPRNG
 * + 6 base62 characters of a CRC-32 over everything before them (44 characters). The checksum lets
 * us refuse a mistyped or made-up key without a database or Redis call, and lets secret scanners
 * recognise real keys; it is not a security measure (the 178 random bits are).
 */

const ALPHABET = API_KEY.alphabet;
/** The largest multiple of 62 that fits in a byte: bytes at or above it are thrown away (no modulo bias). */
const UNBIASED_BELOW = 256 - (256 % ALPHABET.length);

/** `length` characters drawn uniformly from the base62 alphabet. */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    // Each byte is kept with probability 248/256, so 2× the need almost always suffices in one draw.
    for (const byte of randomBytes(2 * (length - out.length))) {
      if (byte >= UNBIASED_BELOW) continue;
      out += ALPHABET[byte % ALPHABET.length];
      if (out.length === length) break;
    }
  }
  return out;
}

let crcTable: Uint32Array | undefined;

/**
 * CRC-32 (IEEE, the one of zlib and PNG) of a string's UTF-8 bytes, the value `zlib.crc32` returns.
 * Computed here rather than with node:zlib so that no function loads zlib (and the stream and
 * binding modules under it) at import for a 44-character checksum (docs/decisions/0038).
 */
export function crc32(text: string): number {
  const table = crcTable ?? makeCrcTable();
  let crc = 0xffffffff;
  // A key is ASCII, whose characters are its UTF-8 bytes: read in place, not encoded per key check.
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code > 0x7f) return crc32Bytes(table, Buffer.from(text, 'utf8'));
    crc = (table[(crc ^ code) & 0xff] as number) ^ (crc >>> 8);
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function crc32Bytes(table: Uint32Array, bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = (table[(crc ^ byte) & 0xff] as number) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function makeCrcTable(): Uint32Array {
  crcTable = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    crcTable[n] = c;
  }
  return crcTable;
}

/** A CRC-32 as 6 base62 characters (62^6 > 2^32), most significant first, zero-padded. */
export function checksum(body: string): string {
  let value = crc32(body);
  let out = '';
  for (let i = 0; i < API_KEY.checksumLength; i++) {
    out = ALPHABET[value % ALPHABET.length] + out;
    value = Math.floor(value / ALPHABET.length);
  }
  return out;
}

export function keyPrefix(tier: Tier): string {
  return `${API_KEY.prefix}${tierRules[tier].code}_`;
}

export function generateApiKey(tier: Tier): string {
  const body = `${keyPrefix(tier)}${randomBase62(API_KEY.randomLength)}`;
  return `${body}${checksum(body)}`;
}

export interface ParsedKey {
  readonly tier: Tier;
  readonly prefix: string;
  readonly last4: string;
}

/** The key's tier, prefix and last four characters when its shape and checksum are right; else null. */
export function parseApiKey(secret: string): ParsedKey | null {
  if (secret.length !== API_KEY.length || !secretShapes.apiKey.exact.test(secret)) return null;
  const split = secret.length - API_KEY.checksumLength;
  // Not secret material: the checksum is a function of the rest, so a plain comparison leaks nothing.
  if (checksum(secret.slice(0, split)) !== secret.slice(split)) return null;
  const tier = tierOfCode(secret.slice(API_KEY.prefix.length, API_KEY.prefix.length + 2));
  if (!tier) return null;
  return { tier, prefix: keyPrefix(tier), last4: secret.slice(-4) };
}

/**
 * What is stored and looked up: SHA-256 of the whole key, hex. Plain SHA-256 suffices for 178-bit
 * random secrets (docs/decisions/0017-api-key-hashing.md): no salt or slow hash is needed, and
 * the lookup must find the row by the hash alone.
 */
export function hashApiKey(secret: string): string {
  // One-shot (Node ≥ 20.12): a third of createHash's CPU, which builds a Hash object per call.
  return hash('sha256', secret, 'hex');
}
