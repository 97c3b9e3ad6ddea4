import type { App } from '../app.js';
import { recordAudit } from '../audit/audit.repository.js';
import type { Actor } from '../auth/caller.js';
import { randomToken, sha256Hex } from '../auth/secrets.js';
import { BadRequestError, ValidationError } from '../errors.js';
import { enqueueMail } from '../mail/outbox.js';
import { emailKey } from './email.js';
import { hashPassword, passwordContextProblem } from './password.js';
import { revokeUserSessions } from './session.repository.js';
import { personChanged } from './session.service.js';
import { findUserByEmailKey, setPassword } from './user.repository.js';

export const RESET_TOKEN_TTL_MS = 60 * 60 * 1000;

const invalidToken = () =>
  new BadRequestError('invalid_reset_token', 'This reset link is unknown, used or expired.');

/**
 * Issues a reset token and mails the link, when the account exists and is active. Callers run this
 * after answering (the answer must not depend on whether the account exists, in body or timing).
 * A new token replaces any unspent one: at most one live token per person.
 */
export async function sendPasswordReset(app: App, actor: Actor, email: string): Promise<void> {
  const user = await findUserByEmailKey(app.db, emailKey(email));
  if (user?.status !== 'active') return;
  const at = app.now();
  const token = randomToken(32); // 256 bits
  const expiresAt = new Date(at.getTime() + RESET_TOKEN_TTL_MS);
  // The link is built from APP_URL only — never from Host or X-Forwarded-Host, which a caller controls.
  // The token travels in the fragment, which browsers do not send to servers or in Referer headers.
  const link = `${app.config.appUrl}/reset-password#token=${token}`;
  const mailId = await app.db.transaction().execute(async (trx) => {
    await trx
      .deleteFrom('password_reset_tokens')
      .where('user_id', '=', user.id)
      .where('spent_at', 'is', null)
      .execute();
    // Two overlapping requests both find no live token to delete; the later insert then meets the
    // earlier one's token in the one-live-token index and replaces it, instead of failing (mail lost).
    const values = { token_hash: sha256Hex(token), expires_at: expiresAt, created_at: at };
    await trx
      .insertInto('password_reset_tokens')
      .values({ user_id: user.id, ...values })
      .onConflict((oc) => oc.column('user_id').where('spent_at', 'is', null).doUpdateSet(values))
      .execute();
    await recordAudit(
      trx,
      actor,
      {
        tenantId: user.tenant_id,
        action: 'auth.password_reset_requested',
        target: { type: 'user', id: user.id },
      },
      at,
    );
    return enqueueMail(
      trx,
      {
        to: user.email,
        kind: 'password_reset',
        subject: 'Reset your HEIR password',
        body: [
          `Hello ${user.name},`,
          '',
          'Someone asked to reset the password of your HEIR account. If it was you, open this link within 60 minutes:',
          '',
          link,
          '',
          'If it was not you, ignore this email: your password has not changed.',
        ].join('\n'),
      },
      at,
    );
  });
  await app.mailer.deliver(app.db, mailId, () => app.now());
}

/** Looks a token up without spending it (mail scanners open links before people do). */
export async function checkResetToken(app: App, token: string): Promise<{ expiresAt: Date }> {
  const row = await app.db
    .selectFrom('password_reset_tokens as r')
    .innerJoin('users as u', 'u.id', 'r.user_id')
    .select(['r.expires_at', 'r.spent_at', 'u.status'])
    .where('r.token_hash', '=', sha256Hex(token))
    .executeTakeFirst();
  if (!row || row.spent_at || row.expires_at <= app.now() || row.status !== 'active') throw invalidToken();
  return { expiresAt: row.expires_at };
}

/**
 * Spends the token and sets the password, in one transaction. The token is spent by a conditional
 * update, so of two concurrent uses exactly one succeeds. Every session of the person ends, and the
 * password's change opens fresh login throttles (see loginGuessKey): the person logs in at once.
 */
export async function resetPassword(app: App, actor: Actor, token: string, password: string): Promise<void> {
  const hash = await hashPassword(password, app.config.bcryptCost);
  const at = app.now();
  const userId = await app.db.transaction().execute(async (trx) => {
    const spent = await trx
      .updateTable('password_reset_tokens')
      .set({ spent_at: at })
      .where('token_hash', '=', sha256Hex(token))
      .where('spent_at', 'is', null)
      .where('expires_at', '>', at)
      .returning('user_id')
      .executeTakeFirst();
    if (!spent) throw invalidToken();
    const user = await trx
      .selectFrom('users')
      .select(['id', 'tenant_id', 'status', 'email'])
      .where('id', '=', spent.user_id)
      .executeTakeFirstOrThrow();
    if (user.status !== 'active') throw invalidToken();
    // Thrown inside the transaction, so the token is not spent: the person may try another password.
    const context = passwordContextProblem(password, user.email);
    if (context) throw new ValidationError([{ path: 'password', message: context }]);
    await setPassword(trx, user.id, hash, at);
    const ended = await revokeUserSessions(trx, user.id, 'password_reset', at);
    await recordAudit(
      trx,
      actor,
      {
        tenantId: user.tenant_id,
        action: 'auth.password_reset',
        target: { type: 'user', id: user.id },
        metadata: { sessions_revoked: ended },
      },
      at,
    );
    return user.id;
  });
  await personChanged(app, [userId]);
}
