import type { App } from '../app.js';
import { recordAudit } from '../audit/audit.repository.js';
import type { Actor } from '../auth/caller.js';
import { sha256Hex } from '../auth/secrets.js';
import { AuthenticationError, ForbiddenError, ValidationError } from '../errors.js';
import { policies } from '../ratelimit/policies.js';
import type { Throttle } from '../ratelimit/throttle.js';
import { emailKey } from './email.js';
import { hashPassword, verifyAgainstDummy, verifyPassword } from './password.js';
import { revokeUserSessions } from './session.repository.js';
import { type ClientInfo, startSession } from './session.service.js';
import {
  countFailedLogin,
  findUserByEmailKey,
  recordLogin,
  setPassword,
  type UserRow,
} from './user.repository.js';
import type { TokenPair } from './views.js';

/** After this many failures in a row an account only opens through a password reset. */
export const MAX_CONSECUTIVE_FAILURES = 100;

const invalid = () => new AuthenticationError('invalid_credentials', 'The email or password is wrong.');

/**
 * Checks an email and password with the throttles of API.md §3. A wrong email and a wrong password
 * take the same path: one bcrypt comparison, one failure counted, the same 401.
 */
async function checkPassword(
  app: App,
  throttle: Throttle,
  actor: Actor,
  email: string,
  password: string,
): Promise<UserRow> {
  const key = emailKey(email);
  await throttle.checkRateLimit(policies.loginFailuresByEmail, key);
  const user = await findUserByEmailKey(app.db, key);
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
  await throttle.rateLimit(policies.loginFailuresByEmail, key);
  throw invalid();
}

/** Refusals that only someone who knows the password can reach, so they reveal nothing. */
async function assertMayLogIn(app: App, user: UserRow): Promise<void> {
  if (user.status !== 'active') throw new ForbiddenError('forbidden', 'This account is disabled.');
  const tenant = await app.db
    .selectFrom('tenants')
    .select('status')
    .where('id', '=', user.tenant_id)
    .executeTakeFirstOrThrow();
  if (tenant.status !== 'active') throw new ForbiddenError('tenant_suspended');
}

export async function logIn(
  app: App,
  throttle: Throttle,
  actor: Actor,
  client: ClientInfo,
  input: { email: string; password: string },
): Promise<TokenPair> {
  const user = await checkPassword(app, throttle, actor, input.email, input.password);
  await assertMayLogIn(app, user);
  if (user.password_temporary) {
    throw new ForbiddenError(
      'password_change_required',
      'Set a new password with POST /v1/auth/set-password first.',
    );
  }
  const at = app.now();
  return app.db.transaction().execute(async (trx) => {
    await recordLogin(trx, user.id, at);
    const pair = await startSession(app, trx, user, client, at);
    await recordAudit(
      trx,
      { ...actor, type: 'user', id: user.id },
      { tenantId: user.tenant_id, action: 'auth.login', target: { type: 'user', id: user.id } },
      at,
    );
    return pair;
  });
}

/** First login of an account created with a temporary password: choose a password, get tokens. */
export async function setInitialPassword(
  app: App,
  throttle: Throttle,
  actor: Actor,
  client: ClientInfo,
  input: { email: string; temporaryPassword: string; newPassword: string },
): Promise<TokenPair> {
  const user = await checkPassword(app, throttle, actor, input.email, input.temporaryPassword);
  // An account that already chose its password resets it by email instead; answer as for a wrong one.
  if (!user.password_temporary) throw invalid();
  await assertMayLogIn(app, user);
  if (input.newPassword.normalize('NFKC') === input.temporaryPassword.normalize('NFKC')) {
    throw new ValidationError([{ path: 'new_password', message: 'must differ from the temporary password' }]);
  }
  const hash = await hashPassword(input.newPassword, app.config.bcryptCost);
  const at = app.now();
  return app.db.transaction().execute(async (trx) => {
    await setPassword(trx, user.id, hash, at);
    await revokeUserSessions(trx, user.id, 'password_changed', at);
    await recordLogin(trx, user.id, at);
    const pair = await startSession(app, trx, { ...user, password_temporary: false }, client, at);
    await recordAudit(
      trx,
      { ...actor, type: 'user', id: user.id },
      { tenantId: user.tenant_id, action: 'auth.password_set', target: { type: 'user', id: user.id } },
      at,
    );
    return pair;
  });
}
