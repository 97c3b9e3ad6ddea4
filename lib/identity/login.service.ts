import type { App } from '../app.js';
import { recordAudit } from '../audit/audit.repository.js';
import type { Actor } from '../auth/caller.js';
import { sha256Hex } from '../auth/secrets.js';
import { AuthenticationError, ForbiddenError, ValidationError } from '../errors.js';
import { addressKey } from '../ratelimit/address-key.js';
import { policies } from '../ratelimit/policies.js';
import type { Throttle } from '../ratelimit/throttle.js';
import { emailKey } from './email.js';
import { hashPassword, passwordContextProblem, verifyAgainstDummy, verifyPassword } from './password.js';
import { revokeUserSessions } from './session.repository.js';
import { type ClientInfo, personChanged, startSession } from './session.service.js';
import {
  countFailedLogin,
  findLoginAccount,
  type LoginAccount,
  replaceTemporaryPassword,
} from './user.repository.js';
import type { TokenPair } from './views.js';

/** After this many failures in a row an account only opens through a password reset. */
export const MAX_CONSECUTIVE_FAILURES = 100;

const invalid = () => new AuthenticationError('invalid_credentials', 'The email or password is wrong.');

/**
 * The bucket that throttles guessing at one account from one client address (API.md §3). It is keyed
 * on the canonical email, so that an email with no account is throttled exactly as one with an
 * account, and on the time the password last changed, so that a completed reset (or a first
 * password) starts afresh: whoever proved control of the mailbox logs in at once. Hashed, so that
 * neither emails nor addresses sit in Redis keys.
 */
export function loginGuessKey(emailKey: string, ip: string | null, passwordChangedAt: Date | null): string {
  return sha256Hex(JSON.stringify([emailKey, addressKey(ip), passwordChangedAt?.getTime() ?? 0]));
}

/**
 * Checks an email and password with the throttles of API.md §3. A wrong email and a wrong password
 * take the same path: one look-up, one bcrypt comparison, one failure counted, the same 401.
 */
async function checkPassword(
  app: App,
  throttle: Throttle,
  actor: Actor,
  client: ClientInfo,
  email: string,
  password: string,
): Promise<LoginAccount> {
  const key = emailKey(email);
  const user = await findLoginAccount(app.db, key);
  const bucket = loginGuessKey(key, client.ip, user?.password_changed_at ?? null);
  await throttle.checkRateLimit(policies.loginFailuresByAccountAndIp, bucket);
  const matches = user
    ? await verifyPassword(password, user.password_hash)
    : await verifyAgainstDummy(password, app.config.bcryptCost);
  if (user && matches && user.failed_logins < MAX_CONSECUTIVE_FAILURES) return user;

  const at = app.now();
  await app.db.transaction().execute(async (trx) => {
    if (user) await countFailedLogin(trx, user.id);
    await recordAudit(
      trx,
      actor,
      {
        tenantId: user?.tenant_id ?? null,
        action: 'auth.login_failed',
        ...(user ? { target: { type: 'user', id: user.id } } : {}),
        // An unknown email is kept only as a fingerprint: people type passwords into email fields.
        metadata: user ? {} : { email_fingerprint: sha256Hex(key).slice(0, 16) },
      },
      at,
    );
  });
  await throttle.rateLimit(policies.loginFailuresByAccountAndIp, bucket);
  throw invalid();
}

/** Refusals that only someone who knows the password can reach, so they reveal nothing. */
function assertMayLogIn(user: LoginAccount): void {
  if (user.status !== 'active') throw new ForbiddenError('forbidden', 'This account is disabled.');
  if (user.tenant_status !== 'active') throw new ForbiddenError('tenant_suspended');
}

export async function logIn(
  app: App,
  throttle: Throttle,
  actor: Actor,
  client: ClientInfo,
  input: { email: string; password: string },
): Promise<TokenPair> {
  const user = await checkPassword(app, throttle, actor, client, input.email, input.password);
  assertMayLogIn(user);
  if (user.password_temporary) {
    throw new ForbiddenError(
      'password_change_required',
      'Set a new password with POST /v1/auth/set-password first.',
    );
  }
  // One statement, atomic on its own: no transaction (and its BEGIN and COMMIT round trips) needed.
  const pair = await startSession(app, app.db, user, client, app.now(), { actor, action: 'auth.login' });
  await personChanged(app, [user.id]); // the person's other logins show this one's time on /me
  return pair;
}

/** First login of an account created with a temporary password: choose a password, get tokens. */
export async function setInitialPassword(
  app: App,
  throttle: Throttle,
  actor: Actor,
  client: ClientInfo,
  input: { email: string; temporaryPassword: string; newPassword: string },
): Promise<TokenPair> {
  const user = await checkPassword(app, throttle, actor, client, input.email, input.temporaryPassword);
  // An account that already chose its password resets it by email instead; answer as for a wrong one.
  if (!user.password_temporary) throw invalid();
  assertMayLogIn(user);
  if (input.newPassword.normalize('NFKC') === input.temporaryPassword.normalize('NFKC')) {
    throw new ValidationError([{ path: 'new_password', message: 'must differ from the temporary password' }]);
  }
  const context = passwordContextProblem(input.newPassword, user.email);
  if (context) throw new ValidationError([{ path: 'new_password', message: context }]);
  const hash = await hashPassword(input.newPassword, app.config.bcryptCost);
  const at = app.now();
  const pair = await app.db.transaction().execute(async (trx) => {
    // Conditional on the temporary password still being the one checked above: of concurrent
    // set-password calls with it, exactly one replaces it; the others answer as a wrong password.
    if (!(await replaceTemporaryPassword(trx, user.id, user.password_hash, hash, at))) throw invalid();
    await revokeUserSessions(trx, user.id, 'password_changed', at);
    return startSession(app, trx, { ...user, password_temporary: false }, client, at, {
      actor,
      action: 'auth.password_set',
    });
  });
  await personChanged(app, [user.id]);
  return pair;
}
