/** Reading what the service mailed: the outbox table, and reset links inside mail bodies. */
import assert from 'node:assert/strict';
import type { App } from '../../lib/app.js';
import { call } from './client.js';

/** The reset link of API.md: APP_URL + /reset-password, the token in the fragment. */
export const RESET_LINK = /https:\/\/portal\.heir\.test\/reset-password#token=([A-Za-z0-9_-]+)/;

/** Outbox rows addressed to `address` (as stored: the normalised email), oldest first. */
export function outboxFor(app: App, address: string, kind?: string) {
  let query = app.db.selectFrom('mail_outbox').selectAll().where('to_address', '=', address);
  if (kind) query = query.where('kind', '=', kind);
  return query.orderBy('created_at', 'asc').orderBy('id', 'asc').execute();
}

/** The token of the first reset link in a mail body. */
export function resetTokenIn(body: string): string {
  const match = RESET_LINK.exec(body);
  assert.ok(match?.[1], `no reset link in: ${body}`);
  return match[1];
}

/**
 * Asks for a reset link (no SMTP configured: the mail stays in the outbox) and returns its token:
 * the newest password_reset mail to `email` after the deferred work has finished.
 */
export async function requestResetToken(app: App, email: string, ip?: string): Promise<string> {
  const res = await call(app, 'POST', '/v1/auth/forgot-password', { json: { email }, ...(ip ? { ip } : {}) });
  assert.equal(res.status, 202, res.text);
  await app.settle();
  const mails = await outboxFor(app, email, 'password_reset');
  const newest = mails.at(-1);
  assert.ok(newest, `no reset mail for ${email}`);
  return resetTokenIn(newest.body);
}
