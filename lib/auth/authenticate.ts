import type { App } from '../app.js';
import { AuthenticationError } from '../errors.js';
import { authenticatePerson } from '../identity/session.service.js';
import { verifyApiKeyCached } from '../keys/key-cache.js';
import { keyRefusalError } from '../keys/verify.js';
import { verifyAdminKey } from './admin-key.js';
import type { Caller } from './caller.js';
import type { PresentedCredential } from './credentials.js';
import type { Reload } from './verified-cache.js';

/**
 * Turns a presented credential into a verified caller, or throws a 401 AuthenticationError (a 403
 * for a known caller refused for its tenant's suspension or its IP). Each credential kind plugs in
 * here. An API key's scopes are checked later, by authorisation, after tenant isolation.
 */
export async function authenticate(
  app: App,
  credential: PresentedCredential,
  ip: string | null,
  /** Skip the instance's caches (the pipeline's re-check after a key's or a person's signal moved). */
  fresh: Reload = false,
): Promise<Caller> {
  switch (credential.kind) {
    case 'admin_key':
      return verifyAdminKey(credential.secret, app.config.adminKeys);
    case 'api_key': {
      const { verification: result, freshness } = await verifyApiKeyCached(
        { db: app.db, cache: app.keyCache, signals: app.signals },
        credential.secret,
        { at: app.now(), ip, fresh },
      );
      if (!result.valid) throw keyRefusalError(result.code, result.malformed === true);
      const { key } = result;
      return {
        kind: 'api_key',
        keyId: key.id,
        tenantId: key.tenantId,
        tier: key.tier,
        scopes: key.scopes,
        freshness,
      };
    }
    case 'bearer_token':
      return authenticatePerson(app, credential.token, fresh);
    case 'empty_bearer':
      throw new AuthenticationError(
        'invalid_token',
        'The Authorization header says Bearer but carries no token: send "Authorization: Bearer <token>".',
      );
    case 'unsupported_scheme':
      throw new AuthenticationError('invalid_token', 'Only the Bearer authorization scheme is supported.');
  }
}
