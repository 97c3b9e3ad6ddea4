import * as z from 'zod';
import { randomToken } from '../auth/secrets.js';
import type { TokenSettings } from '../identity/access-token.js';
import { ACCEPTED_ALGORITHMS, jose } from '../identity/signing-keys.js';
import { lazy } from '../lazy.js';

/** How long an embed session lasts: long enough to load the wizard, short enough to leak little. */
export const EMBED_TOKEN_TTL_SECONDS = 10 * 60;
export const EMBED_TOKEN_TYPE = 'embed+jwt';

/**
 * Embed tokens are signed with the service's keys (verifiable through the JWKS) but carry their own
 * `typ` and `aud` (`<JWT_AUDIENCE>:embed`): the access-token verifier pins `typ: at+jwt` and the API
 * audience, so an embed token handed to a browser can never be used as an access token.
 */
export function embedAudience(settings: TokenSettings): string {
  return `${settings.audience}:embed`;
}

export async function signEmbedToken(
  settings: TokenSettings,
  claims: { readonly tenantId: string; readonly keyId: string },
  now: Date,
): Promise<{ token: string; expiresAt: Date }> {
  const iat = Math.floor(now.getTime() / 1000);
  const exp = iat + EMBED_TOKEN_TTL_SECONDS;
  const [{ SignJWT }, { signing }] = await Promise.all([jose(), settings.keys()]);
  const token = await new SignJWT({ tid: claims.tenantId, key: claims.keyId })
    .setProtectedHeader({
      alg: signing.alg,
      kid: signing.kid,
      typ: EMBED_TOKEN_TYPE,
    })
    .setIssuer(settings.issuer)
    .setAudience(embedAudience(settings))
    .setSubject(claims.tenantId)
    .setIssuedAt(iat)
    .setExpirationTime(exp)
    .setJti(randomToken(16))
    .sign(signing.key);
  return { token, expiresAt: new Date(exp * 1000) };
}

const embedClaims = lazy(() =>
  z.object({ tid: z.uuid(), key: z.uuid(), iat: z.number().int(), exp: z.number().int() }),
);

/** What the embeddable wizard checks: our signature, the embed `typ` and audience, and the expiry. */
export async function verifyEmbedToken(settings: TokenSettings, token: string, now: Date) {
  const [{ errors, jwtVerify }, keys] = await Promise.all([jose(), settings.keys()]);
  try {
    const { payload } = await jwtVerify(token, keys.verificationKeys, {
      algorithms: [...ACCEPTED_ALGORITHMS],
      issuer: settings.issuer,
      audience: embedAudience(settings),
      typ: EMBED_TOKEN_TYPE,
      currentDate: now,
      requiredClaims: ['exp', 'iat', 'jti', 'sub'],
    });
    const claims = embedClaims().parse(payload);
    if (claims.exp - claims.iat > EMBED_TOKEN_TTL_SECONDS) throw new Error('embed token lives too long');
    return { tenantId: claims.tid, keyId: claims.key };
  } catch (error) {
    if (error instanceof errors.JWTExpired) throw new Error('embed token expired');
    throw new Error('invalid embed token');
  }
}
