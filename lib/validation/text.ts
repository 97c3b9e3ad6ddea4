import * as z from 'zod';
import { lazy } from '../lazy.js';

/** C0 controls and DEL, by code point (a regex literal of them trips linters and readers alike). */
export function hasControlCharacters(value: string): boolean {
  for (const char of value) {
    const code = char.codePointAt(0) ?? 0;
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

/** A display name (tenant, person): trimmed, 1 to 200 characters, no control characters. */
export const displayNameSchema = lazy(() =>
  z
    .string()
    .trim()
    .min(1, 'must not be empty')
    .max(200, 'at most 200 characters')
    .refine((value) => !hasControlCharacters(value), 'must not contain control characters'),
);
