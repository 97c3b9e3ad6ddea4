import type { App } from '../app.js';
import { AuthenticationError } from '../errors.js';
import { authenticatePerson } from '../identity/session.service.js';
import { verifyAdminKey } from './admin-key.js';
import type { Caller } from './caller.js';
import type { PresentedCredential } from './credentials.js';

/**
 * Turns a presented credential into a verified caller, or throws a 401 AuthenticationError
 * (a 403 for a known caller whose tenant is suspended). Each credential kind plugs in here.
 */
export async function authenticate(app: App, credential: PresentedCredential): Promise<Caller> {
  switch (credential.kind) {
    case 'admin_key':
      return verifyAdminKey(credential.secret, app.config.adminKeys);
    case 'api_key':
      throw new AuthenticationError('invalid_api_key');
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
