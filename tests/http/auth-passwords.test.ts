/**
 * Choosing a password (API.md §5 "Passwords"): a temporary password is used once under any
 * concurrency; new passwords that are blank or contain the account's email are refused wherever a
 * password is chosen; temporary passwords carry at least 128 bits.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { it } from 'node:test';
import {
  TEMPORARY_PASSWORD_ALPHABET,
  TEMPORARY_PASSWORD_LENGTH,
  temporaryPassword,
} from '../../lib/identity/password.js';
import { type CallResult, call } from '../support/client.js';
import { createTenant, ownerSession, STRONG_PASSWORD } from '../support/fixtures.js';
import { forEachBackend } from '../support/harness.js';
import { requestResetToken } from '../support/mail.js';
import { errorPaths } from '../support/problems.js';
import { freshIp } from '../support/windows.js';

/** Blank to a reader: spaces of all kinds, zero-width and bidi marks, fillers, controls. */
const BLANK_PASSWORDS = [
  ' '.repeat(8),
  '\t\n\r\t\n\r\t\n',
  '\u00a0'.repeat(8),
  '\u3000'.repeat(8),
  '\u200b'.repeat(8),
  '\u200e\u200f\u202a\u202c\u2060\u2061\u2062\u2063',
  '\ufeff'.repeat(8),
  '\u3164'.repeat(8),
  '\u2800'.repeat(8),
  '\u0001\u0002\u0003\u0004\u0005\u0006\u0007\u0008',
  `  \u200b\u2800\u00a0\u3164  \u2060${'\u034f'.repeat(3)}`,
];

/** Full-width letters (ａ…ｚ), which NFKC folds back to ASCII. */
const fullWidth = (text: string) =>
  [...text]
    .map((char) => (/[a-z]/.test(char) ? String.fromCodePoint((char.codePointAt(0) ?? 0) + 0xfee0) : char))
    .join('');

it('temporary passwords carry at least 128 bits', () => {
  const bits = TEMPORARY_PASSWORD_LENGTH * Math.log2(new Set(TEMPORARY_PASSWORD_ALPHABET).size);
  assert.ok(bits >= 128, `${bits.toFixed(1)} bits`);
  const drawn = Array.from({ length: 500 }, () => temporaryPassword());
  for (const password of drawn) {
    assert.equal(password.length, TEMPORARY_PASSWORD_LENGTH);
    assert.ok(
      [...password].every((char) => TEMPORARY_PASSWORD_ALPHABET.includes(char)),
      password,
    );
  }
  assert.equal(new Set(drawn).size, drawn.length);
  // Every letter of the alphabet is used: the entropy counted above is the entropy drawn.
  assert.equal(new Set(drawn.join('')).size, new Set(TEMPORARY_PASSWORD_ALPHABET).size);
});

forEachBackend('choosing a password', (ctx) => {
  const setPassword = (email: string, temporary: string, password: string, ip = freshIp()) =>
    call(ctx.app, 'POST', '/v1/auth/set-password', {
      json: { email, temporary_password: temporary, new_password: password },
      ip,
    });
  const resetPassword = (token: string, password: string) =>
    call(ctx.app, 'POST', '/v1/auth/reset-password', { json: { token, password }, ip: freshIp() });
  const login = (email: string, password: string) =>
    call(ctx.app, 'POST', '/v1/auth', { json: { email, password }, ip: freshIp() });

  function assertRefused(res: CallResult, path: string, message: RegExp, password: string): void {
    assert.equal(res.status, 422, res.text);
    assert.equal(res.body.code, 'validation_failed');
    assert.deepEqual(errorPaths(res.body), [path]);
    assert.match(res.body.errors[0].message, message);
    if (password.trim().length >= 8) assert.ok(!res.text.includes(password), 'the password is not echoed');
  }

  it('50 parallel set-password calls with one temporary password: exactly one succeeds', async () => {
    const tenant = await createTenant(ctx.app);
    const { email, id, temporaryPassword: temporary } = tenant.owner;
    const passwords = Array.from({ length: 50 }, (_, i) => `racer number ${i} passphrase`);
    const results = await Promise.all(passwords.map((password) => setPassword(email, temporary, password)));
    const statuses = results.map((res) => res.status);
    const winners = statuses.flatMap((status, i) => (status === 200 ? [i] : []));
    assert.equal(winners.length, 1, `statuses: ${statuses.join(',')}`);
    // Every other call answers as a wrong password. With Redis, a call may also meet a 503: 50 bcrypt
    // runs on a loaded machine can hold its rate-limit call past the limiter's 1.5 s budget (it then
    // fails closed, before anything is written); the embedded limiter has no such budget.
    const refusals = new Set(ctx.app.limiter.kind === 'memory' ? [401] : [401, 503]);
    for (const res of results) {
      if (res.status === 200) continue;
      assert.ok(refusals.has(res.status), `statuses: ${statuses.join(',')}`);
      assert.equal(res.body.code, res.status === 401 ? 'invalid_credentials' : 'service_unavailable');
    }
    const winner = winners[0] ?? -1;
    const events = await ctx.app.db
      .selectFrom('audit_events')
      .select('id')
      .where('target_id', '=', id)
      .where('action', '=', 'auth.password_set')
      .execute();
    assert.equal(events.length, 1, 'one audit row');
    const sessions = await ctx.app.db.selectFrom('sessions').select('id').where('user_id', '=', id).execute();
    assert.equal(sessions.length, 1, 'one login started');
    assert.equal((await login(email, passwords[winner] ?? '')).status, 200, "the winner's password is set");
    assert.equal((await login(email, passwords[(winner + 1) % 50] ?? '')).status, 401);
    assert.equal((await login(email, temporary)).status, 401, 'the temporary password is gone');
    assert.equal((await setPassword(email, temporary, 'one more try passphrase')).status, 401);
  });

  it('refuses new passwords that are blank, invisible or control characters only', async () => {
    const tenant = await createTenant(ctx.app);
    for (const password of BLANK_PASSWORDS) {
      assertRefused(
        await setPassword(tenant.owner.email, tenant.owner.temporaryPassword, password),
        'new_password',
        /visible characters/,
        password,
      );
    }
    const { owner } = await ownerSession(ctx.app);
    const token = await requestResetToken(ctx.app, owner.email);
    for (const password of BLANK_PASSWORDS) {
      assertRefused(await resetPassword(token, password), 'password', /visible characters/, password);
    }
    // Control: spaces inside a password are fine, and the token was not spent by the refusals.
    const spaced = '  spaced   out   passphrase  ';
    assert.equal((await resetPassword(token, spaced)).status, 200);
    assert.equal((await login(owner.email, spaced)).status, 200);
  });

  it('refuses new passwords that are or contain the email or its local part, in any case or width', async () => {
    const tenant = await createTenant(ctx.app);
    const { email, temporaryPassword: temporary } = tenant.owner;
    const local = email.slice(0, email.indexOf('@'));
    const refused: [string, RegExp][] = [
      [email, /email address/],
      [email.toUpperCase(), /email address/],
      [`my ${email} 2024`, /email address/],
      [fullWidth(email), /email address/],
      [local, /before the @/],
      [`${local}!2024`, /before the @/],
      [`Secret${local.toUpperCase()}`, /before the @/],
      [`x ${fullWidth(local)} y`, /before the @/],
    ];
    for (const [password, message] of refused) {
      assertRefused(await setPassword(email, temporary, password), 'new_password', message, password);
    }
    const { owner } = await ownerSession(ctx.app);
    const ownerLocal = owner.email.slice(0, owner.email.indexOf('@'));
    const token = await requestResetToken(ctx.app, owner.email);
    assertRefused(
      await resetPassword(token, `reset ${owner.email}`),
      'password',
      /email address/,
      owner.email,
    );
    assertRefused(await resetPassword(token, `${ownerLocal}-reset`), 'password', /before the @/, ownerLocal);
    // The domain alone is not the account's: allowed (and the token is still good).
    const domain = `${owner.email.slice(owner.email.indexOf('@') + 1)} is my password`;
    assert.equal((await resetPassword(token, domain)).status, 200);
    assert.equal((await setPassword(email, temporary, STRONG_PASSWORD)).status, 200);
  });

  it('ignores local parts shorter than 3 characters, but not the whole email', async () => {
    const email = `jo@${randomBytes(5).toString('hex')}.example.com`;
    const tenant = await createTenant(ctx.app, { owner: { email, name: 'Jo Short' } });
    const { temporaryPassword: temporary } = tenant.owner;
    assertRefused(await setPassword(email, temporary, `${email}!`), 'new_password', /email address/, email);
    const res = await setPassword(email, temporary, 'jo jo jo, major 7th');
    assert.equal(res.status, 200, res.text);
  });
});
