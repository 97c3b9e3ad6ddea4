import type { App } from '../app.js';
import { AuthenticationError } from '../errors.js';
import { authenticatePerson } from '../identity/session.service.js';
import { keyRefusalError, verifyApiKey } from '../keys/verify.js';
import { verifyAdminKey } from './admin-key.js';
import type { Caller } from './caller.js';
import type { PresentedCredential } from './credentials.js';

/**
 * Turns a presented credential into a verified caller, or throws a 401 AuthenticationError (a 403
 * for a known caller refused for its tenant's suspension or its IP). Each credential kind plugs in
 * here. An API key's scopes are checked later, by authorisation, after tenant isolation.
 */
export async function authenticate(
  app: App,
  credential: PresentedCredential,
  ip: string | null,
): Promise<Caller> {
  switch (credential.kind) {
    case 'admin_key':
      return verifyAdminKey(credential.secret, app.config.adminKeys);
    case 'api_key': {
      const result = await verifyApiKey(app.db, credential.secret, { at: app.now(), ip });
      if (!result.valid) throw keyRefusalError(result.code, result.malformed === true);
      const { key } = result;
      return { kind: 'api_key', keyId: key.id, tenantId: key.tenantId, tier: key.tier, scopes: key.scopes };
    }
    case 'bearer_token':
      return authenticatePerson(app, credential.token);
    case 'empty_bearer':
      throw new AuthenticationError(
        'invalid_token',
        'The Authorization header says Bearer but carries no token: send "Authorization: Bearer <token>".',
      );
    case 'unsupported_scheme':
      throw new AuthenticationError('invalid_token', 'Only the Bearer authorization scheme is supported.');
  }
}
