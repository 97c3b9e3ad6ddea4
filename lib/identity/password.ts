import { createHash, randomInt } from 'node:crypto';
import { dictionary } from '@zxcvbn-ts/language-common';
import bcrypt from 'bcryptjs';
import { z } from 'zod';

/**
 * Passwords are NFKC-normalised, then pre-hashed with SHA-256 (base64, 44 bytes) before bcrypt:
 * bcrypt reads only the first 72 bytes, and a 128-character password must count in full.
 */
function preHash(password: string): string {
  return createHash('sha256').update(password.normalize('NFKC'), 'utf8').digest('base64');
}

export function hashPassword(password: string, cost: number): Promise<string> {
  return bcrypt.hash(preHash(password), cost);
}

export function verifyPassword(password: string, hash: string): Promise<boolean> {
  return bcrypt.compare(preHash(password), hash);
}

const dummyHashes = new Map<number, Promise<string>>();

/**
 * Burns the same bcrypt work as a real check, for logins naming no account, so that a wrong email
 * and a wrong password take the same time.
 */
export async function verifyAgainstDummy(password: string, cost: number): Promise<false> {
  let dummy = dummyHashes.get(cost);
  if (!dummy) {
    dummy = bcrypt.hash(preHash('not the password of anyone'), cost);
    dummyHashes.set(cost, dummy);
  }
  await bcrypt.compare(preHash(password), await dummy);
  return false;
}

let common: Set<string> | undefined;

/** The most common passwords (zxcvbn-ts's list), compared case-insensitively. */
export function isCommonPassword(password: string): boolean {
  common ??= new Set(dictionary['passwords-common'].map((entry) => entry.toLowerCase()));
  return common.has(password.normalize('NFKC').toLowerCase());
}

/** The password given at login: 6 to 128 characters (API.md); longer ones are refused, never cut. */
export const loginPasswordSchema = z
  .string()
  .min(6, 'must be at least 6 characters')
  .max(128, 'must be at most 128 characters');

/** A password being set: NIST SP 800-63B — long enough, not a known-common one, no other rules. */
export const newPasswordSchema = z
  .string()
  .refine((value) => [...value.normalize('NFKC')].length >= 8, 'must be at least 8 characters')
  .refine((value) => [...value.normalize('NFKC')].length <= 128, 'must be at most 128 characters')
  .refine((value) => !isCommonPassword(value), 'is one of the most commonly used passwords; choose another');

const ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';

/** A temporary password: 20 characters from an unambiguous alphabet (~114 bits). */
export function temporaryPassword(): string {
  return Array.from({ length: 20 }, () => ALPHABET[randomInt(ALPHABET.length)]).join('');
}
