import * as z from 'zod';
import { lazy } from '../lazy.js';
import { hasControlCharacters } from '../validation/text.js';

/**
 * Emails as people type them: trimmed and NFKC-normalised (so full-width or ligature look-alikes
 * become the plain characters). `emailKey` adds case folding: it is what uniqueness and per-email
 * throttles are keyed on, so "Ana@X.com", "ana@x.com" and "ａｎａ@x.com" are one account, one bucket.
 */
export function normaliseEmail(raw: string): string {
  return raw.normalize('NFKC').trim();
}

export function emailKey(raw: string): string {
  return normaliseEmail(raw).toLowerCase().normalize('NFKC');
}

// Zero-width and bidi controls make look-alikes that NFKC keeps apart; refuse them outright.
const INVISIBLE = /[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]/;

/** A new account's email: normalised, at most 254 characters, a plausible address. */
export const emailSchema = lazy(() =>
  z
    .string()
    .max(320, 'at most 254 characters')
    .transform(normaliseEmail)
    .pipe(
      z
        .string()
        .max(254, 'at most 254 characters')
        .refine(
          (value) => !INVISIBLE.test(value) && !hasControlCharacters(value),
          'must not contain invisible or control characters',
        )
        .pipe(z.email('must be an email address')),
    ),
);

/** An email given to log in: only length-checked, so a malformed one fails like a wrong one. */
export const loginEmailSchema = lazy(() =>
  z.string().min(1, 'is required').max(320, 'at most 320 characters'),
);
