import { ForbiddenError } from '../errors.js';
import { keyRefusalError, missingScopes } from '../keys/verify.js';
import { type AuthSpec, type Caller, isAdmin } from './caller.js';

/**
 * Decides whether a verified caller may call an endpoint, from its declaration alone. Refusals are
 * 403: the caller is known, the credential just does not reach this far.
 */
export function authorize(spec: Exclude<AuthSpec, 'none'>, caller: Caller): void {
  if (spec.admin && isAdmin(caller)) return;
  if (caller.kind === 'api_key' && spec.apiKey) {
    // The last step of the key's verification (lib/keys/verify.ts), after tenant isolation.
    const missing = missingScopes(caller.scopes, spec.apiKey.scopes);
    if (missing.length > 0) {
      const error = keyRefusalError('insufficient_scope');
      throw new ForbiddenError('insufficient_scope', `${error.detail} Needed: ${missing.join(', ')}.`);
    }
    return;
  }
  if (caller.kind === 'person' && spec.person) {
    const roles = spec.person.roles;
    if (roles && !roles.includes(caller.role)) {
      throw new ForbiddenError('forbidden', `This operation needs the role ${roles.join(' or ')}.`);
    }
    return;
  }
  throw new ForbiddenError('forbidden', 'This credential may not call this endpoint.');
}
