import {
  calculateJwkThumbprint,
  createLocalJWKSet,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JSONWebKeySet,
  type JWK,
} from 'jose';

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
 * Loads the configured private keys (JSON array of JWKs or a JWK set; the first signs, the others
 * only verify, so a new key can be published before it signs and an old one kept until its tokens
 * expire). Without configuration, one ephemeral key is generated (never on Vercel: config refuses).
 */
export async function loadSigningKeys(privateKeysJson: string | null): Promise<SigningKeys> {
  const jwks = privateKeysJson ? parseKeys(privateKeysJson) : [await generateSigningJwk()];
  const publicKeys: JWK[] = [];
  let signing: SigningKeys['signing'] | undefined;
  for (const jwk of jwks) {
    const alg = jwk.alg as Algorithm;
    if (!ACCEPTED_ALGORITHMS.includes(alg))
      throw new Error(`JWT_PRIVATE_KEYS: alg must be EdDSA or ES256 (kid ${jwk.kid})`);
    if (!jwk.kid) throw new Error('JWT_PRIVATE_KEYS: every key needs a kid');
    if (!jwk.d) throw new Error(`JWT_PRIVATE_KEYS: key ${jwk.kid} is not a private key`);
    signing ??= { kid: jwk.kid, alg, key: await importJWK(jwk, alg) };
    publicKeys.push(publicPart(jwk));
  }
  if (!signing) throw new Error('JWT_PRIVATE_KEYS is empty');
  const set: JSONWebKeySet = { keys: publicKeys };
  return { signing, jwks: set, verificationKeys: createLocalJWKSet(set) };
}
