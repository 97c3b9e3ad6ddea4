// jose is loaded by the first request that signs or verifies a token, not at import: an API-key or an
// admin-key request, a health check, never needs it (docs/decisions/0038).
import type { createLocalJWKSet, JSONWebKeySet, JWK } from 'jose';

let joseModule: Promise<typeof import('jose')> | undefined;

/**
 * jose, imported once by the first caller and then shared: `import()` of a loaded module is cheap in a
 * bundle, but under tsx (the local server, tests) it runs the loader's resolve hooks on every call.
 */
export function jose(): Promise<typeof import('jose')> {
  joseModule ??= import('jose');
  return joseModule;
}

/** The algorithms we sign with; verification accepts exactly these (no `none`, no HS*, no RS*). */
export const ACCEPTED_ALGORITHMS = ['EdDSA', 'ES256'] as const;
type Algorithm = (typeof ACCEPTED_ALGORITHMS)[number];

export interface SigningKeys {
  /** The key new tokens are signed with (the first configured one). */
  readonly signing: { readonly kid: string; readonly alg: Algorithm; readonly key: CryptoKey | Uint8Array };
  /** Every public key, for /.well-known/jwks.json and for verification. */
  readonly jwks: JSONWebKeySet;
  readonly verificationKeys: ReturnType<typeof createLocalJWKSet>;
}

const PRIVATE_FIELDS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth'] as const;

function publicPart(jwk: JWK): JWK {
  const copy: Record<string, unknown> = { ...jwk };
  for (const field of PRIVATE_FIELDS) delete copy[field];
  return { ...(copy as JWK), use: 'sig' };
}

/** A fresh Ed25519 private JWK with a thumbprint `kid` (dev server, tests, key rotation). */
export async function generateSigningJwk(): Promise<JWK> {
  const { calculateJwkThumbprint, exportJWK, generateKeyPair } = await jose();
  const { privateKey } = await generateKeyPair('EdDSA', { extractable: true });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, alg: 'EdDSA', kid: await calculateJwkThumbprint(jwk) };
}

function parseKeys(json: string): JWK[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new Error('JWT_PRIVATE_KEYS is not valid JSON');
  }
  const list = Array.isArray(parsed) ? parsed : (parsed as { keys?: unknown })?.keys;
  if (!Array.isArray(list) || list.length === 0)
    throw new Error('JWT_PRIVATE_KEYS must be a non-empty JWK array');
  return list as JWK[];
}

/**
 * The configured private keys (JSON array of JWKs or a JWK set; the first signs, the others only
 * verify, so a new key can be published before it signs and an old one kept until its tokens expire).
 * Without configuration, one ephemeral key is generated (never on Vercel: config refuses). They are
 * checked now (JSON, algorithms, kids, private parts: a bad JWT_PRIVATE_KEYS still fails the app's
 * start) and imported with jose on the first call, once; a failed import is retried on the next.
 */
export function signingKeysOnUse(privateKeysJson: string | null): () => Promise<SigningKeys> {
  const configured = privateKeysJson ? checkedKeys(parseKeys(privateKeysJson)) : null;
  let loading: Promise<SigningKeys> | undefined;
  return () => {
    if (!loading) {
      loading = importKeys(configured);
      loading.catch(() => {
        loading = undefined;
      });
    }
    return loading;
  };
}

function checkedKeys(jwks: JWK[]): JWK[] {
  for (const jwk of jwks) {
    if (!ACCEPTED_ALGORITHMS.includes(jwk.alg as Algorithm))
      throw new Error(`JWT_PRIVATE_KEYS: alg must be EdDSA or ES256 (kid ${jwk.kid})`);
    if (!jwk.kid) throw new Error('JWT_PRIVATE_KEYS: every key needs a kid');
    if (!jwk.d) throw new Error(`JWT_PRIVATE_KEYS: key ${jwk.kid} is not a private key`);
  }
  return jwks;
}

async function importKeys(configured: JWK[] | null): Promise<SigningKeys> {
  const { createLocalJWKSet, importJWK } = await jose();
  const jwks = configured ?? [await generateSigningJwk()];
  const first = jwks[0] as JWK & { kid: string; alg: Algorithm };
  const signing = { kid: first.kid, alg: first.alg, key: await importJWK(first, first.alg) };
  const set: JSONWebKeySet = { keys: jwks.map(publicPart) };
  return { signing, jwks: set, verificationKeys: createLocalJWKSet(set) };
}
