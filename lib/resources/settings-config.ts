import { parseDataKeys } from '../crypto/data-cipher.js';

/** How long the FIRS token endpoint may take before the exchange answers 504 (FIRS_OAUTH_TIMEOUT_MS). */
export const FIRS_OAUTH_TIMEOUT_MS = 5_000;

/** The reason DATA_ENCRYPTION_KEY's entries are unusable, or null when they are fine. */
export function dataKeysError(entries: readonly string[]): string | null {
  try {
    parseDataKeys(entries);
    return null;
  } catch (error) {
    return (error as Error).message;
  }
}
