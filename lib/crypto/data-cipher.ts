import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/**
 * Encryption at rest for secrets the service must read back (FIRS credentials and tokens, webhook
 * signing secrets): AES-256-GCM under DATA_ENCRYPTION_KEY (docs/decisions/0024).
 *
 * A stored value is `v1.<kid>.<iv>.<ciphertext>.<tag>` (base64url parts). `kid` is the first 8 hex
 * characters of SHA-256 of the key, so operators never name keys and a rotation is "put the new key
 * first": the first key encrypts, every listed key decrypts. Each value is bound to a context string
 * (additional authenticated data, e.g. `firs_credentials.client_secret:<tenant id>`), so a ciphertext
 * copied into another row or another tenant fails to decrypt instead of leaking there.
 */
export interface DataCipher {
  /** The key id new values are encrypted under. */
  readonly currentKeyId: string;
  encrypt(plaintext: string, context: string): string;
  /** Throws DecryptionError on a value that was tampered with, moved, or made under an unknown key. */
  decrypt(stored: string, context: string): string;
  /** The key id a stored value names (for re-encryption after a rotation). */
  keyIdOf(stored: string): string;
}

export class DecryptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DecryptionError';
  }
}

const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export function keyId(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 8);
}

/** Decodes DATA_ENCRYPTION_KEY's entries (base64 of exactly 32 bytes each); throws naming the bad one. */
export function parseDataKeys(entries: readonly string[]): Buffer[] {
  return entries.map((entry, index) => {
    const key = Buffer.from(entry, 'base64');
    if (key.length !== 32 || key.toString('base64').replace(/=+$/, '') !== entry.replace(/=+$/, '')) {
      throw new Error(`DATA_ENCRYPTION_KEY entry ${index + 1} is not base64 of 32 bytes`);
    }
    return key;
  });
}

/** A cipher over `keys` (the first encrypts; all decrypt). Needs at least one key. */
export function createDataCipher(keys: readonly Buffer[]): DataCipher {
  const [current] = keys;
  if (!current) throw new Error('createDataCipher needs at least one key');
  const byId = new Map(keys.map((key) => [keyId(key), key] as const));
  const currentKeyId = keyId(current);
  return {
    currentKeyId,
    encrypt(plaintext, context) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', current, iv, { authTagLength: TAG_BYTES });
      cipher.setAAD(Buffer.from(context, 'utf8'));
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      const parts = [iv, body, cipher.getAuthTag()].map((part) => part.toString('base64url'));
      return [VERSION, currentKeyId, ...parts].join('.');
    },
    decrypt(stored, context) {
      const [version, kid, iv, body, tag, ...rest] = stored.split('.');
      if (version !== VERSION || !kid || iv === undefined || body === undefined || !tag || rest.length > 0) {
        throw new DecryptionError('not a value this service encrypted');
      }
      const key = byId.get(kid);
      if (!key) throw new DecryptionError(`encrypted under key ${kid}, which is not configured`);
      const ivBytes = Buffer.from(iv, 'base64url');
      const tagBytes = Buffer.from(tag, 'base64url');
      if (ivBytes.length !== IV_BYTES || tagBytes.length !== TAG_BYTES) {
        throw new DecryptionError('malformed encrypted value');
      }
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, ivBytes, { authTagLength: TAG_BYTES });
        decipher.setAAD(Buffer.from(context, 'utf8'));
        decipher.setAuthTag(tagBytes);
        return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString(
          'utf8',
        );
      } catch {
        throw new DecryptionError('the encrypted value failed authentication');
      }
    },
    keyIdOf(stored) {
      return stored.split('.')[1] ?? '';
    },
  };
}

/** A random key for processes without DATA_ENCRYPTION_KEY (embedded and dev mode only). */
export function ephemeralDataKey(): Buffer {
  return randomBytes(32);
}
