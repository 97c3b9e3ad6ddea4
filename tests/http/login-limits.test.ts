import assert from 'node:assert/strict';
import { it } from 'node:test';
import { emailKey } from '../../lib/identity/email.js';
import { loginGuessKey, MAX_CONSECUTIVE_FAILURES } from '../../lib/identity/login.service.js';
import { policies } from '../../lib/ratelimit/policies.js';
import { type CallResult, call } from '../support/client.js';
import { logIn, ownerSession, STRONG_PASSWORD, uniqueEmail } from '../support/fixtures.js';
import { forEachBackend } from '../support/harness.js';
import { outboxFor, requestResetToken } from '../support/mail.js';
import { withoutRequestId } from '../support/problems.js';
import { awayFromWindowEnd, freshIp, windowEndSeconds } from '../support/windows.js';

const WRONG_PASSWORD = 'definitely not it';

/** Full-width letters (ａ…ｚ), which NFKC folds back to ASCII: the same address to the service. */
const fullWidth = (email: string) =>
  [...email]
    .map((char) => (/[a-z]/.test(char) ? String.fromCodePoint((char.codePointAt(0) ?? 0) + 0xfee0) : char))
    .join('');

/** A 429 of API.md §3, refused by `policy`, with every header the contract names. */
function assertRateLimited(res: CallResult, policy: string, limit: number): void {
  assert.equal(res.status, 429, res.text);
  assert.equal(res.body.code, 'rate_limited');
  assert.equal(res.body.status, 429);
  assert.equal(res.headers.get('content-type'), 'application/problem+json');
  const retryAfter = Number(res.headers.get('retry-after'));
  assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1, `Retry-After ${retryAfter}`);
  assert.equal(res.headers.get('x-ratelimit-limit'), String(limit));
  assert.equal(res.headers.get('x-ratelimit-remaining'), '0');
  const reset = Number(res.headers.get('x-ratelimit-reset'));
  assert.equal(reset, windowEndSeconds(), 'the window ends at the next quarter hour');
  assert.ok(
    Math.abs(retryAfter - (reset - Date.now() / 1000)) <= 2,
    `Retry-After ${retryAfter} s is not the time to the end of the window`,
  );
  assert.equal(res.headers.get('ratelimit-policy'), `"${policy}";q=${limit};w=900`);
  const fields = /^"([^"]+)";r=(\d+);t=(\d+)$/.exec(res.headers.get('ratelimit') ?? '');
  assert.ok(fields, `RateLimit: ${res.headers.get('ratelimit')}`);
  assert.equal(fields[1], policy);
  assert.equal(fields[2], '0');
  assert.ok(retryAfter >= Number(fields[3]), 'Retry-After is never earlier than t');
}

forEachBackend('login and forgot-password limits', (ctx) => {
  const login = (email: string, password: string, ip: string, path = '/v1/auth') =>
    call(ctx.app, 'POST', path, { json: { email, password }, ip });
  const forgot = (email: string, ip: string) =>
    call(ctx.app, 'POST', '/v1/auth/forgot-password', { json: { email }, ip });

  async function failedLogins(userId: string): Promise<number> {
    const row = await ctx.app.db
      .selectFrom('users')
      .select('failed_logins')
      .where('id', '=', userId)
      .executeTakeFirstOrThrow();
    return row.failed_logins;
  }

  async function loginFailedEvents(userId: string): Promise<number> {
    const rows = await ctx.app.db
      .selectFrom('audit_events')
      .select('id')
      .where('target_id', '=', userId)
      .where('action', '=', 'auth.login_failed')
      .execute();
    return rows.length;
  }

  /** The per-(account, address) bucket of API.md §3 for this person, as the service keys it. */
  async function guessBucket(userId: string, email: string, ip: string): Promise<string> {
    const row = await ctx.app.db
      .selectFrom('users')
      .select('password_changed_at')
      .where('id', '=', userId)
      .executeTakeFirstOrThrow();
    return loginGuessKey(emailKey(email), ip, row.password_changed_at);
  }

  it('strangers guessing from many addresses cannot lock the owner out', async () => {
    await awayFromWindowEnd();
    const { owner } = await ownerSession(ctx.app);
    // 30 strangers, one guess each, and two persistent ones that exhaust their own buckets.
    for (let i = 1; i <= 30; i++) {
      const res = await login(owner.email, WRONG_PASSWORD, freshIp());
      assert.equal(res.status, 401, `stranger ${i}: ${res.text}`);
      assert.equal(res.headers.get('ratelimit-policy'), '"login_account_ip";q=10;w=900');
      assert.equal(res.headers.get('x-ratelimit-remaining'), '9', 'each address has its own bucket');
    }
    for (const ip of [freshIp(), freshIp()]) {
      for (let i = 0; i < 10; i++) assert.equal((await login(owner.email, WRONG_PASSWORD, ip)).status, 401);
      assertRateLimited(await login(owner.email, STRONG_PASSWORD, ip), 'login_account_ip', 10);
    }
    assert.equal(await failedLogins(owner.id), 50, 'every failure counts towards the account-wide cap');
    const mine = await login(owner.email, STRONG_PASSWORD, freshIp());
    assert.equal(mine.status, 200, `the owner, from their own address, still logs in: ${mine.text}`);
    assert.equal(await failedLogins(owner.id), 0, 'and a success clears the count');
  });

  it('one address guessing at one account is stopped after 10 failures; others are not', async () => {
    await awayFromWindowEnd();
    const { owner } = await ownerSession(ctx.app);
    const other = await ownerSession(ctx.app);
    const ip = freshIp();
    for (let i = 1; i <= 10; i++) {
      const res = await login(owner.email, WRONG_PASSWORD, ip);
      assert.equal(res.status, 401, `failure ${i}: ${res.text}`);
      assert.equal(res.body.code, 'invalid_credentials');
      assert.equal(res.headers.get('ratelimit-policy'), '"login_account_ip";q=10;w=900');
      assert.equal(res.headers.get('x-ratelimit-remaining'), String(10 - i), `after failure ${i}`);
    }
    const eleventh = await login(owner.email, STRONG_PASSWORD, ip);
    assertRateLimited(eleventh, 'login_account_ip', 10);
    assert.ok(!('access_token' in eleventh.body));
    assertRateLimited(
      await login(owner.email, STRONG_PASSWORD, ip, '/v1/auth/team-member'),
      'login_account_ip',
      10,
    );
    const setPassword = await call(ctx.app, 'POST', '/v1/auth/set-password', {
      json: { email: owner.email, temporary_password: STRONG_PASSWORD, new_password: 'another passphrase 9' },
      ip,
    });
    assertRateLimited(setPassword, 'login_account_ip', 10);
    assert.equal(await failedLogins(owner.id), 10, 'refused attempts are not counted as failures');
    assert.equal(await loginFailedEvents(owner.id), 10, 'each failure is audited');

    // The pair is throttled: the owner from elsewhere, and other accounts from this address, go on.
    assert.equal((await login(owner.email, STRONG_PASSWORD, freshIp())).status, 200);
    assert.equal((await login(other.owner.email, WRONG_PASSWORD, ip)).status, 401);
    assert.equal((await login(other.owner.email, STRONG_PASSWORD, ip)).status, 200);
  });

  it('an unknown email is throttled exactly like an account, so the limit reveals nothing', async () => {
    await awayFromWindowEnd();
    const { owner } = await ownerSession(ctx.app);
    const nobody = uniqueEmail('nobody');
    const ip = freshIp();
    for (let i = 1; i <= 10; i++) {
      const known = await login(owner.email, WRONG_PASSWORD, ip);
      const unknown = await login(nobody, WRONG_PASSWORD, ip);
      assert.equal(known.status, 401);
      assert.equal(unknown.status, 401);
      for (const name of ['ratelimit-policy', 'x-ratelimit-remaining', 'x-ratelimit-limit']) {
        assert.equal(known.headers.get(name), unknown.headers.get(name), `${name} after failure ${i}`);
      }
    }
    assertRateLimited(await login(owner.email, STRONG_PASSWORD, ip), 'login_account_ip', 10);
    assertRateLimited(await login(nobody, STRONG_PASSWORD, ip), 'login_account_ip', 10);
  });

  it('look-alike variants of the email (case, width, spaces) count against one bucket', async () => {
    await awayFromWindowEnd();
    const { owner } = await ownerSession(ctx.app);
    const variants = [
      owner.email,
      owner.email.toUpperCase(),
      fullWidth(owner.email),
      `  ${owner.email}\t`,
      fullWidth(owner.email).toUpperCase(),
    ];
    const ip = freshIp();
    for (let i = 0; i < 10; i++) {
      const res = await login(variants[i % variants.length] ?? owner.email, WRONG_PASSWORD, ip);
      assert.equal(res.status, 401, `failure ${i + 1}: ${res.text}`);
    }
    for (const variant of variants) {
      assertRateLimited(await login(variant, STRONG_PASSWORD, ip), 'login_account_ip', 10);
    }
  });

  it('attempts while throttled do not extend the throttle; forgot-password still works', async () => {
    await awayFromWindowEnd();
    const { owner } = await ownerSession(ctx.app);
    const ip = freshIp();
    for (let i = 0; i < 10; i++) assert.equal((await login(owner.email, WRONG_PASSWORD, ip)).status, 401);

    const resets = new Set<string | null>();
    for (let i = 0; i < 5; i++) {
      const res = await login(owner.email, i % 2 ? STRONG_PASSWORD : WRONG_PASSWORD, ip);
      assertRateLimited(res, 'login_account_ip', 10);
      resets.add(res.headers.get('x-ratelimit-reset'));
    }
    assert.equal(resets.size, 1, 'the throttle ends when the window does, however often one knocks');
    const bucket = await guessBucket(owner.id, owner.email, ip);
    const state = await ctx.app.limiter.peek(policies.loginFailuresByAccountAndIp, bucket);
    assert.equal(state.allowed, false);
    assert.equal(Math.ceil(state.reset / 1000), windowEndSeconds());
    assert.equal(await failedLogins(owner.id), 10, 'no attempt while throttled counted as a failure');
    assert.equal(await loginFailedEvents(owner.id), 10);

    const reset = await forgot(owner.email, ip);
    assert.equal(reset.status, 202, reset.text);
    await ctx.app.settle();
    const mails = await outboxFor(ctx.app, owner.email, 'password_reset');
    assert.equal(mails.length, 1, 'the reset link is sent while login is throttled');
  });

  it('a completed password reset lifts the throttle at once, from every address', async () => {
    await awayFromWindowEnd();
    const { owner } = await ownerSession(ctx.app);
    const home = freshIp();
    for (let i = 0; i < 10; i++) assert.equal((await login(owner.email, WRONG_PASSWORD, home)).status, 401);
    assertRateLimited(await login(owner.email, STRONG_PASSWORD, home), 'login_account_ip', 10);

    // The link is asked for and used from another address (a phone), the login is from the first one.
    const phone = freshIp();
    const token = await requestResetToken(ctx.app, owner.email, phone);
    const newPassword = 'chosen after the lock 8';
    const done = await call(ctx.app, 'POST', '/v1/auth/reset-password', {
      json: { token, password: newPassword },
      ip: phone,
    });
    assert.equal(done.status, 200, done.text);
    const res = await login(owner.email, newPassword, home);
    assert.equal(res.status, 200, `the person who proved the mailbox logs in at once: ${res.text}`);
    assert.equal(res.headers.get('ratelimit-policy'), '"login_account_ip";q=10;w=900');
    assert.equal(res.headers.get('x-ratelimit-remaining'), '10', 'a fresh bucket');
    // The new bucket counts afresh, from the first failure.
    const wrong = await login(owner.email, WRONG_PASSWORD, home);
    assert.equal(wrong.status, 401);
    assert.equal(wrong.headers.get('ratelimit-policy'), '"login_account_ip";q=10;w=900');
    assert.equal(wrong.headers.get('x-ratelimit-remaining'), '9');
  });

  it('100 attempts per IP: the 101st from that IP is refused, other IPs go on', async () => {
    await awayFromWindowEnd(30);
    const a = await ownerSession(ctx.app);
    const b = await ownerSession(ctx.app);
    const ip = freshIp();
    // Every attempt counts against the IP, whatever its outcome: 10 failures, then 89 refused by the
    // (account, address) throttle (cheap: no bcrypt), then one success as the 100th.
    for (let i = 0; i < 10; i++) assert.equal((await login(a.owner.email, WRONG_PASSWORD, ip)).status, 401);
    for (let i = 0; i < 89; i++) {
      const res = await login(a.owner.email, STRONG_PASSWORD, ip);
      assert.equal(res.status, 429, `attempt ${11 + i}`);
    }
    const hundredth = await login(b.owner.email, STRONG_PASSWORD, ip);
    assert.equal(hundredth.status, 200, `the 100th attempt is within the limit: ${hundredth.text}`);
    assert.equal(hundredth.headers.get('ratelimit-policy'), '"login";q=100;w=900');
    assert.equal(hundredth.headers.get('x-ratelimit-remaining'), '0');

    assertRateLimited(await login(b.owner.email, STRONG_PASSWORD, ip), 'login', 100);
    assertRateLimited(await login(b.owner.email, STRONG_PASSWORD, ip, '/v1/auth/team-member'), 'login', 100);
    assertRateLimited(await login(uniqueEmail(), WRONG_PASSWORD, ip), 'login', 100);

    const elsewhere = freshIp();
    const ok = await login(b.owner.email, STRONG_PASSWORD, elsewhere);
    assert.equal(ok.status, 200, ok.text);
    const state = await ctx.app.limiter.peek(policies.loginByIp, elsewhere);
    assert.equal(state.remaining, 99, 'the other IP has its own bucket');
    const wrong = await login(b.owner.email, WRONG_PASSWORD, elsewhere);
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body.code, 'invalid_credentials');
    assert.equal((await forgot(b.owner.email, ip)).status, 202, 'forgot-password has buckets of its own');
  });

  it('after 100 consecutive failures only a password reset opens the account', async () => {
    const { owner } = await ownerSession(ctx.app);
    const ip = freshIp();
    const setFailures = (n: number) =>
      ctx.app.db.updateTable('users').set({ failed_logins: n }).where('id', '=', owner.id).execute();

    await setFailures(MAX_CONSECUTIVE_FAILURES - 1);
    const justUnder = await login(owner.email, STRONG_PASSWORD, ip);
    assert.equal(justUnder.status, 200, `99 failures do not lock: ${justUnder.text}`);
    assert.equal(await failedLogins(owner.id), 0, 'a success clears the count');

    // The cap is account-wide: the 100th failure, from any address, closes it for every address.
    await setFailures(MAX_CONSECUTIVE_FAILURES - 1);
    assert.equal((await login(owner.email, WRONG_PASSWORD, freshIp())).status, 401);
    assert.equal(await failedLogins(owner.id), 100);
    const elsewhere = await login(owner.email, STRONG_PASSWORD, freshIp());
    assert.equal(elsewhere.status, 401, elsewhere.text);
    assert.equal(elsewhere.body.code, 'invalid_credentials');

    await setFailures(100);
    const right = await login(owner.email, STRONG_PASSWORD, ip);
    const wrong = await login(owner.email, WRONG_PASSWORD, ip);
    assert.equal(right.status, 401, right.text);
    assert.equal(right.body.code, 'invalid_credentials');
    assert.deepEqual(
      withoutRequestId(right.body),
      withoutRequestId(wrong.body),
      'a locked account answers exactly as a wrong password',
    );
    assert.equal(right.headers.get('www-authenticate'), wrong.headers.get('www-authenticate'));
    assert.ok(!('access_token' in right.body));
    assert.equal(await failedLogins(owner.id), 102);
    const setPassword = await call(ctx.app, 'POST', '/v1/auth/set-password', {
      json: {
        email: owner.email,
        temporary_password: STRONG_PASSWORD,
        new_password: 'sneaky new passphrase 3',
      },
      ip,
    });
    assert.equal(setPassword.status, 401, 'set-password does not get round the lock');

    const token = await requestResetToken(ctx.app, owner.email, ip);
    const newPassword = 'unlocked by the reset 5';
    const done = await call(ctx.app, 'POST', '/v1/auth/reset-password', {
      json: { token, password: newPassword },
      ip,
    });
    assert.equal(done.status, 200, done.text);
    assert.equal(await failedLogins(owner.id), 0);
    const session = await logIn(ctx.app, owner.email, newPassword, ip);
    assert.equal(session.userId, owner.id);
  });

  it('forgot-password: 5 per email per window, look-alikes included; throttled requests send nothing', async () => {
    await awayFromWindowEnd();
    const { owner } = await ownerSession(ctx.app);
    const ip = freshIp();
    const first = await forgot(owner.email, ip);
    for (let i = 1; i <= 5; i++) {
      const res = i === 1 ? first : await forgot(owner.email, ip);
      assert.equal(res.status, 202, `request ${i}: ${res.text}`);
      assert.equal(res.headers.get('ratelimit-policy'), '"forgot_password_email";q=5;w=900');
      assert.equal(res.headers.get('x-ratelimit-remaining'), String(5 - i));
      assert.deepEqual(res.body, first.body);
    }
    assertRateLimited(await forgot(owner.email, ip), 'forgot_password_email', 5);
    assertRateLimited(await forgot(owner.email.toUpperCase(), freshIp()), 'forgot_password_email', 5);
    assertRateLimited(await forgot(fullWidth(owner.email), freshIp()), 'forgot_password_email', 5);
    await ctx.app.settle();
    const mails = await outboxFor(ctx.app, owner.email, 'password_reset');
    assert.equal(mails.length, 5, 'one mail per accepted request, none for refused ones');
    assert.equal((await forgot(uniqueEmail(), ip)).status, 202, 'the IP is not blocked');
  });

  it('forgot-password: 20 per IP per window, whatever the emails', async () => {
    await awayFromWindowEnd();
    const { owner } = await ownerSession(ctx.app);
    const ip = freshIp();
    for (let i = 1; i <= 20; i++) {
      const res = await forgot(uniqueEmail(`probe${i}`), ip);
      assert.equal(res.status, 202, `request ${i}: ${res.text}`);
    }
    const refused = await forgot(owner.email, ip);
    assertRateLimited(refused, 'forgot_password', 20);
    await ctx.app.settle();
    assert.deepEqual(await outboxFor(ctx.app, owner.email), [], 'a refused request sends no mail');
    const elsewhere = await forgot(owner.email, freshIp());
    assert.equal(elsewhere.status, 202);
  });

  it("a person's API calls: 1,000 per window, with the headers", async () => {
    await awayFromWindowEnd();
    const { tenantId, session } = await ownerSession(ctx.app);
    const me = () => call(ctx.app, 'GET', '/v1/auth/me', { headers: session.auth });
    const first = await me();
    assert.equal(first.status, 200);
    assert.equal(first.headers.get('x-ratelimit-limit'), '1000');
    assert.equal(first.headers.get('x-ratelimit-remaining'), '999');
    assert.equal(first.headers.get('x-ratelimit-reset'), String(windowEndSeconds()));
    assert.equal(first.headers.get('ratelimit-policy'), '"person";q=1000;w=900');
    assert.match(first.headers.get('ratelimit') ?? '', /^"person";r=999;t=\d+$/);
    const second = await me();
    assert.equal(second.headers.get('x-ratelimit-remaining'), '998');

    const filled = await ctx.app.limiter.limit(policies.person, session.userId, 997);
    assert.equal(filled.remaining, 1);
    const last = await me();
    assert.equal(last.status, 200, 'the 1,000th call gets through');
    assert.equal(last.headers.get('x-ratelimit-remaining'), '0');
    assertRateLimited(await me(), 'person', 1000);
    const list = await call(ctx.app, 'GET', `/v1/tenants/${tenantId}/team-members`, {
      headers: session.auth,
    });
    assertRateLimited(list, 'person', 1000);

    const other = await ownerSession(ctx.app);
    const fine = await call(ctx.app, 'GET', '/v1/auth/me', { headers: other.session.auth });
    assert.equal(fine.status, 200, 'the limit is per person');
    assert.equal(fine.headers.get('x-ratelimit-remaining'), '999');
  });
});
