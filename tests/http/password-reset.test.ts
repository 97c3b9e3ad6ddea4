import assert from 'node:assert/strict';
import { after, it } from 'node:test';
import { sha256Hex } from '../../lib/auth/secrets.js';
import { call } from '../support/client.js';
import { testClock } from '../support/clock.js';
import { logIn, ownerSession, type Session, STRONG_PASSWORD, uniqueEmail } from '../support/fixtures.js';
import { forEachBackend } from '../support/harness.js';
import { outboxFor, RESET_LINK, requestResetToken, resetTokenIn } from '../support/mail.js';
import { errorPaths } from '../support/problems.js';
import { startSmtpServer } from '../support/smtp.js';

const clock = testClock();
const NEW_PASSWORD = 'a brand new passphrase 7';

/** A real SMTP server for the suites that deliver mail; every backend's app sends to it. */
const smtp = await startSmtpServer();
after(() => smtp.close());

const forgot = (ctx: { app: Parameters<typeof call>[0] }, email: string, headers?: Record<string, string>) =>
  call(ctx.app, 'POST', '/v1/auth/forgot-password', { json: { email }, ...(headers ? { headers } : {}) });

forEachBackend(
  'password reset',
  (ctx) => {
    const validate = (token: string) =>
      call(ctx.app, 'GET', `/v1/auth/validate-reset-token/${encodeURIComponent(token)}`);
    const reset = (token: string, password: string) =>
      call(ctx.app, 'POST', '/v1/auth/reset-password', { json: { token, password } });
    const login = (email: string, password: string) =>
      call(ctx.app, 'POST', '/v1/auth', { json: { email, password } });

    function assertInvalidToken(res: Awaited<ReturnType<typeof call>>, why: string): void {
      assert.equal(res.status, 400, `${why}: ${res.text}`);
      assert.equal(res.body.code, 'invalid_reset_token', why);
      assert.equal(res.headers.get('content-type'), 'application/problem+json');
    }

    async function assertSessionEnded(session: Session, why: string): Promise<void> {
      const me = await call(ctx.app, 'GET', '/v1/auth/me', { headers: session.auth });
      assert.equal(me.status, 401, `${why}: the access token still works`);
      assert.equal(me.body.code, 'invalid_token');
      const refresh = await call(ctx.app, 'POST', '/v1/auth/refresh', {
        json: { refresh_token: session.refreshToken },
      });
      assert.equal(refresh.status, 401, `${why}: the refresh token still works`);
      assert.equal(refresh.body.code, 'invalid_token');
    }

    it('answers 202 with the same body for known and unknown emails, and mails only the known one', async () => {
      const { owner } = await ownerSession(ctx.app);
      const unknown = uniqueEmail('nobody');
      const known = await forgot(ctx, owner.email);
      const stranger = await forgot(ctx, unknown);
      assert.equal(known.status, 202, known.text);
      assert.equal(stranger.status, 202);
      assert.deepEqual(known.body, stranger.body);
      assert.deepEqual(Object.keys(known.body), ['message']);
      assert.match(known.body.message, /if an account exists/i);
      await ctx.app.settle();

      const mails = await outboxFor(ctx.app, owner.email);
      assert.equal(mails.length, 1, 'exactly one mail for the account');
      const [mail] = mails;
      assert.ok(mail);
      assert.equal(mail.kind, 'password_reset');
      assert.equal(mail.sent_at, null, 'no SMTP here: the mail stays in the outbox');
      const token = resetTokenIn(mail.body);
      assert.ok(
        mail.body.includes(`https://portal.heir.test/reset-password#token=${token}`),
        'the link is built from APP_URL',
      );
      assert.ok(Buffer.from(token, 'base64url').length >= 16, 'at least 128 bits');
      assert.deepEqual(await outboxFor(ctx.app, unknown), []);

      const rows = await ctx.app.db
        .selectFrom('password_reset_tokens')
        .selectAll()
        .where('user_id', '=', owner.id)
        .execute();
      assert.equal(rows.length, 1);
      assert.equal(rows[0]?.token_hash, sha256Hex(token), 'only a hash of the token is stored');
      assert.ok(!JSON.stringify(rows).includes(token));
    });

    it('builds the link from APP_URL even when Host and X-Forwarded-Host say otherwise', async () => {
      const { owner } = await ownerSession(ctx.app);
      const res = await forgot(ctx, owner.email, {
        host: 'evil.example',
        'x-forwarded-host': 'evil.example',
        'x-forwarded-proto': 'http',
        origin: 'https://evil.example',
      });
      assert.equal(res.status, 202);
      await ctx.app.settle();
      const [mail] = await outboxFor(ctx.app, owner.email);
      assert.ok(mail);
      assert.ok(!mail.body.includes('evil'), mail.body);
      assert.match(mail.body, RESET_LINK);
    });

    it('a second request replaces the first token: at most one live token', async () => {
      const { owner } = await ownerSession(ctx.app);
      const first = await requestResetToken(ctx.app, owner.email);
      const second = await requestResetToken(ctx.app, owner.email);
      assert.notEqual(first, second);
      assertInvalidToken(await validate(first), 'the replaced token');
      assertInvalidToken(await reset(first, NEW_PASSWORD), 'the replaced token');
      const live = await ctx.app.db
        .selectFrom('password_reset_tokens')
        .select('token_hash')
        .where('user_id', '=', owner.id)
        .where('spent_at', 'is', null)
        .execute();
      assert.deepEqual(live, [{ token_hash: sha256Hex(second) }]);
      assert.equal((await validate(second)).status, 200);
    });

    it('overlapping requests for one account each mail a link, and only one link stays live', async () => {
      const { owner } = await ownerSession(ctx.app);
      const answers = await Promise.all([forgot(ctx, owner.email), forgot(ctx, owner.email.toUpperCase())]);
      assert.deepEqual(
        answers.map((res) => res.status),
        [202, 202],
      );
      await ctx.app.settle();
      const mails = await outboxFor(ctx.app, owner.email, 'password_reset');
      assert.equal(mails.length, 2, 'neither request is lost');
      const statuses = [];
      for (const mail of mails) statuses.push((await validate(resetTokenIn(mail.body))).status);
      assert.deepEqual(statuses.sort(), [200, 400], 'one live token');
    });

    it('validating does not spend the token; resetting spends it, sets the password and ends every session', async () => {
      const { owner, session } = await ownerSession(ctx.app);
      const other = await logIn(ctx.app, owner.email);
      const token = await requestResetToken(ctx.app, owner.email);

      for (let i = 0; i < 2; i++) {
        const res = await validate(token);
        assert.equal(res.status, 200, res.text);
        assert.deepEqual(Object.keys(res.body).sort(), ['expires_at', 'valid']);
        assert.equal(res.body.valid, true);
        const expiresIn = Date.parse(res.body.expires_at) - clock.now().getTime();
        assert.ok(Math.abs(expiresIn - 60 * 60_000) < 30_000, `expires in ${expiresIn} ms, not 60 min`);
      }
      assert.equal((await call(ctx.app, 'GET', '/v1/auth/me', { headers: session.auth })).status, 200);

      const done = await reset(token, NEW_PASSWORD);
      assert.equal(done.status, 200, done.text);
      assert.deepEqual(Object.keys(done.body), ['message']);
      assert.ok(!done.text.includes(NEW_PASSWORD));

      // Before any new login (which would move the person's signal too): the reset alone ends them.
      await assertSessionEnded(session, 'the first login');
      await assertSessionEnded(other, 'the second login');
      assertInvalidToken(await reset(token, 'yet another passphrase 9'), 'a spent token');
      assertInvalidToken(await validate(token), 'a spent token');

      const fresh = await login(owner.email, NEW_PASSWORD);
      assert.equal(fresh.status, 200, 'the new password works');
      const old = await login(owner.email, STRONG_PASSWORD);
      assert.equal(old.status, 401, 'the old password does not');
      assert.equal(old.body.code, 'invalid_credentials');

      const events = await ctx.app.db
        .selectFrom('audit_events')
        .select(['action', 'metadata'])
        .where('target_id', '=', owner.id)
        .where('action', 'in', ['auth.password_reset_requested', 'auth.password_reset'])
        .orderBy('created_at')
        .execute();
      assert.deepEqual(
        events.map((event) => event.action),
        ['auth.password_reset_requested', 'auth.password_reset'],
      );
      assert.deepEqual(events[1]?.metadata, { sessions_revoked: 2 });
      assert.ok(!JSON.stringify(events).includes(token));
    });

    it('applies the password rules on reset: 8 to 128 characters, not a common password', async () => {
      const { owner } = await ownerSession(ctx.app);
      const token = await requestResetToken(ctx.app, owner.email);
      const refused: [string, RegExp][] = [
        ['k9$Tq2w', /at least 8/],
        ['password1', /common/],
        ['qwerty123', /common/],
        ['PASSWORD1', /common/],
        ['x'.repeat(129), /at most 128/],
      ];
      for (const [password, message] of refused) {
        const res = await reset(token, password);
        assert.equal(res.status, 422, `${password.length} chars: ${res.text}`);
        assert.equal(res.body.code, 'validation_failed');
        assert.deepEqual(errorPaths(res.body), ['password']);
        assert.match(res.body.errors[0].message, message);
        assert.ok(!res.text.includes(password), 'the password is not echoed');
      }
      assert.equal((await validate(token)).status, 200, 'a refused password does not spend the token');

      const longest = `${'Abc123-'.repeat(18)}xy`;
      assert.equal(longest.length, 128);
      const res = await reset(token, longest);
      assert.equal(res.status, 200, res.text);
      assert.equal((await login(owner.email, longest)).status, 200);
      const cut = await login(owner.email, longest.slice(0, 127));
      assert.equal(cut.status, 401, 'every character counts');
    });

    it('does not truncate at 72 bytes: a password sharing the first 72 bytes is refused', async () => {
      const { owner } = await ownerSession(ctx.app);
      const prefix = 'x'.repeat(72);
      const mine = `${prefix}${'A'.repeat(28)}`;
      const lookalike = `${prefix}${'B'.repeat(28)}`;
      const token = await requestResetToken(ctx.app, owner.email);
      assert.equal((await reset(token, mine)).status, 200);
      const wrong = await login(owner.email, lookalike);
      assert.equal(wrong.status, 401);
      assert.equal(wrong.body.code, 'invalid_credentials');
      assert.equal((await login(owner.email, prefix)).status, 401, 'nor the 72-byte prefix alone');
      assert.equal((await login(owner.email, mine)).status, 200);

      // The same with multi-byte characters: 36 × 'ü' is 72 bytes of UTF-8.
      const wide = 'ü'.repeat(36);
      const second = await requestResetToken(ctx.app, owner.email);
      assert.equal((await reset(second, `${wide}first`)).status, 200);
      assert.equal((await login(owner.email, `${wide}other`)).status, 401);
      assert.equal((await login(owner.email, `${wide}first`)).status, 200);
    });

    it('a token is good for 60 minutes, then refused', async () => {
      const { owner } = await ownerSession(ctx.app);
      const token = await requestResetToken(ctx.app, owner.email);
      clock.advance(59 * 60_000);
      assert.equal((await validate(token)).status, 200, 'still valid after 59 minutes');
      clock.advance(2 * 60_000);
      assertInvalidToken(await validate(token), 'after 61 minutes');
      assertInvalidToken(await reset(token, NEW_PASSWORD), 'after 61 minutes');
      assert.equal((await login(owner.email, STRONG_PASSWORD)).status, 200, 'the password is unchanged');
      assert.equal((await login(owner.email, NEW_PASSWORD)).status, 401);
    });

    it('one token used twice at once: exactly one reset succeeds, and its password is the one set', async () => {
      for (let round = 0; round < 2; round++) {
        const { owner } = await ownerSession(ctx.app);
        const token = await requestResetToken(ctx.app, owner.email);
        const passwords = ['first racer passphrase 1', 'second racer passphrase 2'];
        const results = await Promise.all(passwords.map((password) => reset(token, password)));
        assert.deepEqual(results.map((res) => res.status).sort(), [200, 400], `round ${round}`);
        const winner = results[0]?.status === 200 ? 0 : 1;
        const loser = results[1 - winner];
        assert.ok(loser);
        assertInvalidToken(loser, 'the losing use');
        assert.equal(
          (await login(owner.email, passwords[winner] ?? '')).status,
          200,
          "the winner's password",
        );
        assert.equal((await login(owner.email, passwords[1 - winner] ?? '')).status, 401);
        const resets = await ctx.app.db
          .selectFrom('audit_events')
          .select('id')
          .where('target_id', '=', owner.id)
          .where('action', '=', 'auth.password_reset')
          .execute();
        assert.equal(resets.length, 1, 'one reset happened');
      }
    });

    it('answers malformed, tiny, huge or unknown tokens with 400 invalid_reset_token, never 500', async () => {
      const tokens = [
        'a',
        'short',
        'x'.repeat(15),
        'x'.repeat(201),
        'y'.repeat(5000),
        'Z'.repeat(43), // the right shape, unknown
        '../../etc/passwd-and-some-more',
        "' OR 1=1 -- and more text",
        '\u0000'.repeat(20),
        '🙂'.repeat(20),
        'tok en with spaces and things',
      ];
      for (const token of tokens) assertInvalidToken(await validate(token), JSON.stringify(token));
      for (const path of ['%E0%A4%A', '%', '%zz']) {
        const res = await call(ctx.app, 'GET', `/v1/auth/validate-reset-token/${path}`);
        assert.ok(res.status === 400 || res.status === 404, `${path}: ${res.status}`);
        assert.equal(res.headers.get('content-type'), 'application/problem+json');
      }
      for (const token of ['a', 'Z'.repeat(43), '\u0000'.repeat(20)]) {
        assertInvalidToken(await reset(token, NEW_PASSWORD), JSON.stringify(token));
      }
      const huge = await reset('y'.repeat(5000), NEW_PASSWORD);
      assert.equal(huge.status, 422);
      assert.deepEqual(errorPaths(huge.body), ['token']);
    });
  },
  { options: { now: clock.now } },
);

/** SMTP_URL is filled in before any suite starts its app (the server above is already listening). */
const smtpEnv: Record<string, string> = { SMTP_URL: smtp.url };

forEachBackend(
  'mail delivery over SMTP',
  (ctx) => {
    it('delivers the reset link to a real SMTP server and blanks the outbox copy', async () => {
      const { owner } = await ownerSession(ctx.app);
      const unknown = uniqueEmail('nobody');
      const res = await forgot(ctx, owner.email.toUpperCase());
      assert.equal(res.status, 202);
      assert.equal((await forgot(ctx, unknown)).status, 202);
      await ctx.app.settle();

      const received = smtp.to(owner.email);
      assert.equal(received.length, 1, 'one message');
      const [message] = received;
      assert.ok(message);
      assert.deepEqual(message.to, [owner.email]);
      assert.equal(message.from, 'no-reply@heir.local');
      assert.match(message.text, /^Subject: Reset your HEIR password\r?$/m);
      const token = resetTokenIn(message.text);
      assert.ok(message.text.includes(`https://portal.heir.test/reset-password#token=${token}`));
      assert.deepEqual(smtp.to(unknown), []);

      const [row] = await outboxFor(ctx.app, owner.email);
      assert.ok(row);
      assert.equal(row.kind, 'password_reset');
      assert.ok(row.sent_at, 'marked sent');
      assert.equal(row.body, '', 'the link does not stay at rest');
      assert.equal(row.attempts, 1);
      assert.equal(row.last_error, null);

      const valid = await call(ctx.app, 'GET', `/v1/auth/validate-reset-token/${token}`);
      assert.equal(valid.status, 200, 'the mailed link works');
      const done = await call(ctx.app, 'POST', '/v1/auth/reset-password', {
        json: { token, password: NEW_PASSWORD },
      });
      assert.equal(done.status, 200);
      assert.equal((await logIn(ctx.app, owner.email, NEW_PASSWORD)).userId, owner.id);
    });

    it('mails a new team member their temporary password, then blanks the outbox copy', async () => {
      const { tenantId, session } = await ownerSession(ctx.app);
      const email = uniqueEmail('invited');
      const res = await call(ctx.app, 'POST', `/v1/tenants/${tenantId}/team-members`, {
        headers: session.auth,
        json: { email, name: 'Invited Person', role: 'member' },
      });
      assert.equal(res.status, 201, res.text);
      const temporary: string = res.body.temporary_password;
      await ctx.app.settle();

      const received = smtp.to(email);
      assert.equal(received.length, 1);
      const [message] = received;
      assert.ok(message);
      assert.match(message.text, /^Subject: You have been added to a HEIR team\r?$/m);
      assert.ok(message.text.includes(temporary), 'the mail carries the temporary password');
      assert.ok(message.text.includes('https://portal.heir.test'));

      const rows = await outboxFor(ctx.app, email);
      assert.equal(rows.length, 1);
      assert.equal(rows[0]?.kind, 'team_invite');
      assert.ok(rows[0]?.sent_at);
      assert.equal(rows[0]?.body, '', 'the temporary password does not stay at rest');

      const set = await call(ctx.app, 'POST', '/v1/auth/set-password', {
        json: { email, temporary_password: temporary, new_password: NEW_PASSWORD },
      });
      assert.equal(set.status, 200, 'the mailed password is the one that works');
    });
  },
  { env: smtpEnv, options: { now: clock.now } },
);

forEachBackend(
  'mail delivery failing',
  (ctx) => {
    it('keeps the mail in the outbox with the error, and the answer is still 202', async () => {
      const { owner } = await ownerSession(ctx.app);
      const res = await forgot(ctx, owner.email);
      assert.equal(res.status, 202);
      await ctx.app.settle();
      const [row] = await outboxFor(ctx.app, owner.email);
      assert.ok(row);
      assert.equal(row.sent_at, null);
      assert.equal(row.attempts, 1);
      assert.match(row.last_error ?? '', /ECONNREFUSED|connect/i);
      assert.ok(RESET_LINK.test(row.body), 'the body is kept for a later attempt');
    });
  },
  // Port 9 (discard) is closed here: the connection is refused at once.
  { env: { SMTP_URL: 'smtp://127.0.0.1:9' }, options: { now: clock.now } },
);
