import { createHash, randomInt } from 'node:crypto';
import { createRequire } from 'node:module';
import * as z from 'zod';
import { lazy } from '../lazy.js';

const require = createRequire(import.meta.url);

/**
 * Passwords are NFKC-normalised, then pre-hashed with SHA-256 (base64, 44 bytes) before bcrypt:
 * bcrypt reads only the first 72 bytes, and a 128-character password must count in full.
 */
function preHash(password: string): string {
  return createHash('sha256').update(password.normalize('NFKC'), 'utf8').digest('base64');
}

/**
 * bcryptjs computes on the event loop, in slices of up to 100 ms scheduled with setImmediate. Run
 * side by side, 50 hashes put 50 slices (seconds) between two turns of the loop, and every Redis and
 * database answer waiting behind them times out (503). Run one at a time, there is at most one slice
 * between two turns; the total work is the same, since one thread does it either way.
 */
let bcryptQueue: Promise<unknown> = Promise.resolve();
function oneAtATime<T>(work: () => Promise<T>): Promise<T> {
  const run = bcryptQueue.then(work, work);
  bcryptQueue = run.catch(() => undefined);
  return run;
}

type Bcrypt = typeof import('bcryptjs').default;
let bcryptLoaded: Promise<Bcrypt> | undefined;
/** bcryptjs, loaded by the first request that needs it, not at cold start: API keys never do. */
function bcrypt(): Promise<Bcrypt> {
  bcryptLoaded ??= import('bcryptjs').then((module) => module.default);
  return bcryptLoaded;
}

export function hashPassword(password: string, cost: number): Promise<string> {
  return oneAtATime(async () => (await bcrypt()).hash(preHash(password), cost));
}

export function verifyPassword(password: string, hash: string): Promise<boolean> {
  return oneAtATime(async () => (await bcrypt()).compare(preHash(password), hash));
}

/** bcrypt's own base64 alphabet: a hash string made of it parses like any other. */
const BCRYPT_BASE64 = './ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const dummyHashes = new Map<number, string>();

/**
 * A well-formed bcrypt hash of `cost` that no password matches: a fresh salt and a random digest.
 * Made without hashing, so that the first login naming no account does not pay for an extra bcrypt
 * run that a login naming an account never pays.
 */
function dummyHash(bcrypt: Bcrypt, cost: number): string {
  let dummy = dummyHashes.get(cost);
  if (!dummy) {
    const digest = Array.from({ length: 31 }, () => BCRYPT_BASE64[randomInt(BCRYPT_BASE64.length)]).join('');
    dummy = `${bcrypt.genSaltSync(cost)}${digest}`;
    dummyHashes.set(cost, dummy);
  }
  return dummy;
}

/**
 * Runs exactly the work of a real check (one bcrypt comparison at `cost`) for logins naming no
 * account, so that a wrong email and a wrong password cost the same.
 */
export async function verifyAgainstDummy(password: string, cost: number): Promise<false> {
  await oneAtATime(async () => {
    const loaded = await bcrypt();
    return loaded.compare(preHash(password), dummyHash(loaded, cost));
  });
  return false;
}

let common: Set<string> | undefined;

/** The most common passwords (zxcvbn-ts's list), compared case-insensitively. */
export function isCommonPassword(password: string): boolean {
  // Loaded on first use, not at cold start (a 300 KB list that only password changes need); the
  // package ships CommonJS, so a synchronous require keeps this check usable inside zod refinements.
  common ??= new Set(
    (require('@zxcvbn-ts/language-common') as typeof import('@zxcvbn-ts/language-common')).dictionary[
      'passwords-common'
    ].map((entry) => entry.toLowerCase()),
  );
  return common.has(password.normalize('NFKC').toLowerCase());
}

/**
 * Characters that show nothing: white space, controls, format characters (zero-width, bidi),
 * default-ignorable ones (Hangul fillers, variation selectors …) and the blank braille pattern.
 */
const BLANK = /^[\p{White_Space}\p{Cc}\p{Cf}\p{Default_Ignorable_Code_Point}\u2800]*$/u;

/** True for a password a person could not see or type back: nothing but blank characters. */
export function isBlankPassword(password: string): boolean {
  return BLANK.test(password.normalize('NFKC'));
}

/** Local parts shorter than this are too common a substring ("al", "jo") to refuse. */
export const MIN_CONTEXT_WORD_LENGTH = 3;

/**
 * NIST SP 800-63B's context-specific words: a new password may not be, or contain, the account's
 * email or its local part (case-insensitively, after NFKC). Returns what is wrong, or null.
 */
export function passwordContextProblem(password: string, email: string): string | null {
  const fold = (value: string) => value.normalize('NFKC').toLowerCase().normalize('NFKC');
  const candidate = fold(password);
  const address = fold(email.trim());
  if (candidate.includes(address)) return 'must not contain your email address';
  const at = address.lastIndexOf('@');
  const local = at > 0 ? address.slice(0, at) : '';
  if ([...local].length >= MIN_CONTEXT_WORD_LENGTH && candidate.includes(local)) {
    return 'must not contain the part of your email address before the @';
  }
  return null;
}

/** The password given at login: 6 to 128 characters (API.md); longer ones are refused, never cut. */
export const loginPasswordSchema = lazy(() =>
  z.string().min(6, 'must be at least 6 characters').max(128, 'must be at most 128 characters'),
);

/**
 * A password being set: NIST SP 800-63B — long enough, not blank, not a known-common one, no
 * composition rules. The account's own email is checked where the account is known
 * (`passwordContextProblem`).
 */
export const newPasswordSchema = lazy(() =>
  z
    .string()
    .refine((value) => [...value.normalize('NFKC')].length >= 8, 'must be at least 8 characters')
    .refine((value) => [...value.normalize('NFKC')].length <= 128, 'must be at most 128 characters')
    .refine(
      (value) => !isBlankPassword(value),
      'must contain visible characters, not only spaces, invisible or control characters',
    )
    .refine(
      (value) => !isCommonPassword(value),
      'is one of the most commonly used passwords; choose another',
    ),
);

const ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';
/** 24 characters of a 57-letter alphabet: 24 × log2(57) ≈ 140 bits, above the 128 required. */
export const TEMPORARY_PASSWORD_LENGTH = 24;

/** A temporary password from an unambiguous alphabet (no 0/O, 1/l/I). */
export function temporaryPassword(): string {
  return Array.from({ length: TEMPORARY_PASSWORD_LENGTH }, () => ALPHABET[randomInt(ALPHABET.length)]).join(
    '',
  );
}

/** Exposed for the entropy test: the alphabet temporary passwords are drawn from. */
export const TEMPORARY_PASSWORD_ALPHABET = ALPHABET;
