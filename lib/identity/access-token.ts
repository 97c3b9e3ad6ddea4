import { errors, jwtVerify, SignJWT } from 'jose';
import type { Role } from '../db/tables.js';
import { AuthenticationError } from '../errors.js';
import { ACCEPTED_ALGORITHMS, type SigningKeys } from './signing-keys.js';

export const ACCESS_TOKEN_TTL_SECONDS = 15 * 60;

export interface TokenSettings {
  readonly keys: SigningKeys;
  readonly issuer: string;
  readonly audience: string;
}

export interface AccessClaims {
  readonly userId: string;
  readonly tenantId: string;
  readonly role: Role;
  readonly sessionId: string;
}

/** A 15-minute access token (RFC 9068 shape: `typ: at+jwt`, `kid` of one of our keys). */
export function signAccessToken(settings: TokenSettings, claims: AccessClaims, now: Date): Promise<string> {
  const iat = Math.floor(now.getTime() / 1000);
  return new SignJWT({ tid: claims.tenantId, role: claims.role, sid: claims.sessionId })
    .setProtectedHeader({ alg: settings.keys.signing.alg, kid: settings.keys.signing.kid, typ: 'at+jwt' })
    .setIssuer(settings.issuer)
    .setAudience(settings.audience)
    .setSubject(claims.userId)
    .setIssuedAt(iat)
    .setExpirationTime(iat + ACCESS_TOKEN_TTL_SECONDS)
    .setJti(crypto.randomUUID())
    .sign(settings.keys.signing.key);
}

/**
 * Verifies an access token: algorithm pinned, key looked up by `kid` among our own keys only
 * (`jku`, `x5u` and `jwk` headers are never followed), `iss`, `aud`, `typ` and `exp` required.
 */
export async function verifyAccessToken(
  settings: TokenSettings,
  token: string,
  now: Date,
): Promise<AccessClaims> {
  try {
    const { payload } = await jwtVerify(token, settings.keys.verificationKeys, {
      algorithms: [...ACCEPTED_ALGORITHMS],
      issuer: settings.issuer,
      audience: settings.audience,
      typ: 'at+jwt',
      currentDate: now,
      requiredClaims: ['iss', 'aud', 'exp', 'iat', 'sub', 'sid', 'tid'],
    });
    const { sub, tid, sid, role } = payload;
    if (
      typeof sub !== 'string' ||
      typeof tid !== 'string' ||
      typeof sid !== 'string' ||
      typeof role !== 'string'
    ) {
      throw new AuthenticationError('invalid_token');
    }
    return { userId: sub, tenantId: tid, sessionId: sid, role: role as Role };
  } catch (error) {
    if (error instanceof errors.JWTExpired) throw new AuthenticationError('token_expired');
    if (error instanceof AuthenticationError) throw error;
    throw new AuthenticationError('invalid_token');
  }
}
