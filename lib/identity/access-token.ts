import * as z from 'zod';
import { randomToken } from '../auth/secrets.js';
import type { Role } from '../db/tables.js';
import { AuthenticationError } from '../errors.js';
import { lazy } from '../lazy.js';
import { ACCEPTED_ALGORITHMS, jose, type SigningKeys } from './signing-keys.js';

export const ACCESS_TOKEN_TTL_SECONDS = 15 * 60;
/**
 * How far in the future an `iat` may lie: function instances' clocks differ by a little, and `iat`
 * is rounded down to the second by one instance and compared by another. Beyond this, refused.
 */
export const CLOCK_SKEW_SECONDS = 5;

export interface TokenSettings {
  /** Loaded with jose on the first token signed or verified (lib/identity/signing-keys.ts). */
  readonly keys: () => Promise<SigningKeys>;
  readonly issuer: string;
  readonly audience: string;
}

export interface AccessClaims {
  readonly userId: string;
  readonly tenantId: string;
  readonly role: Role;
  readonly sessionId: string;
}

/** What a verified token says, including what identifies this token among its login's. */
export interface VerifiedAccessClaims extends AccessClaims {
  readonly jti: string;
  /** Unix seconds. */
  readonly issuedAt: number;
}

/**
 * A 15-minute access token (RFC 9068 shape: `typ: at+jwt`, `kid` of one of our keys). `jti` and the
 * issue time may be given, so that a refresh replayed within its grace period re-issues the very
 * token it issued the first time (see session.service.ts).
 */
export async function signAccessToken(
  settings: TokenSettings,
  claims: AccessClaims,
  now: Date,
  jti: string = randomToken(16),
): Promise<string> {
  const [{ SignJWT }, { signing }] = await Promise.all([jose(), settings.keys()]);
  const iat = Math.floor(now.getTime() / 1000);
  return new SignJWT({ tid: claims.tenantId, role: claims.role, sid: claims.sessionId })
    .setProtectedHeader({ alg: signing.alg, kid: signing.kid, typ: 'at+jwt' })
    .setIssuer(settings.issuer)
    .setAudience(settings.audience)
    .setSubject(claims.userId)
    .setIssuedAt(iat)
    .setExpirationTime(iat + ACCESS_TOKEN_TTL_SECONDS)
    .setJti(jti)
    .sign(signing.key);
}

/**
 * The claims we rely on, checked even on tokens bearing our own signature: a key that signed
 * something odd (a test key, a bug, a leaked key) must meet a 401, never a database error.
 */
const claimsSchema = lazy(() =>
  z.object({
    sub: z.uuid(),
    tid: z.uuid(),
    sid: z.uuid(),
    role: z.enum(['owner', 'admin', 'member']),
    jti: z.string().min(1).max(200),
    iat: z.number().int(),
    exp: z.number().int(),
  }),
);

/**
 * Verifies an access token: algorithm pinned, key looked up by `kid` among our own keys only
 * (`jku`, `x5u` and `jwk` headers are never followed), `iss`, `aud`, `typ`, `exp`, `iat` and `jti`
 * required; ids must be UUIDs; `iat` may not lie in the future, and no token may claim a longer
 * life than we give ours.
 */
export async function verifyAccessToken(
  settings: TokenSettings,
  token: string,
  now: Date,
): Promise<VerifiedAccessClaims> {
  // Outside the try: a key that fails to load is the service's fault (500), not the token's (401).
  const [{ errors, jwtVerify }, keys] = await Promise.all([jose(), settings.keys()]);
  try {
    const { payload } = await jwtVerify(token, keys.verificationKeys, {
      algorithms: [...ACCEPTED_ALGORITHMS],
      issuer: settings.issuer,
      audience: settings.audience,
      typ: 'at+jwt',
      currentDate: now,
      requiredClaims: ['iss', 'aud', 'exp', 'iat', 'sub', 'sid', 'tid', 'jti'],
    });
    const parsed = claimsSchema().safeParse(payload);
    if (!parsed.success) throw new AuthenticationError('invalid_token');
    const { sub, tid, sid, role, jti, iat, exp } = parsed.data;
    const nowSeconds = Math.floor(now.getTime() / 1000);
    if (iat > nowSeconds + CLOCK_SKEW_SECONDS || exp - iat > ACCESS_TOKEN_TTL_SECONDS) {
      throw new AuthenticationError('invalid_token');
    }
    return { userId: sub, tenantId: tid, sessionId: sid, role, jti, issuedAt: iat };
  } catch (error) {
    if (error instanceof errors.JWTExpired) throw new AuthenticationError('token_expired');
    if (error instanceof AuthenticationError) throw error;
    throw new AuthenticationError('invalid_token');
  }
}
