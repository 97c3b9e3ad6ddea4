/**
 * Account enumeration (OWASP Authentication and Forgot Password cheat sheets): whether an email has an
 * account must not show in the status, body, headers or timing of login, set-password or forgot-password.
 * The clock is frozen so that rate-limit headers (`t=` seconds left) compare byte for byte.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { hashPassword, verifyPassword } from '../../lib/identity/password.js';
import type { CallResult } from '../support/client.js';
import { createTenant, ownerSession, STRONG_PASSWORD, uniqueEmail } from '../support/fixtures.js';
import { forEachBackend } from '../support/harness.js';
import {
  expectProblem,
  headersWithoutRequestId,
  median,
  secretLike,
  send,
  withoutRequestId,
} from '../support/security.js';

const frozen = new Date();

function assertSameAnswer(left: CallResult, right: CallResult): void {
  assert.equal(left.status, right.status);
  assert.deepEqual(withoutRequestId(left.body), withoutRequestId(right.body));
  assert.deepEqual(headersWithoutRequestId(left), headersWithoutRequestId(right));
}

forEachBackend(
  'account enumeration',
  (ctx) => {
    const login = (email: string, password: string) =>
      send(ctx.app, 'POST', '/v1/auth', { json: { email, password } });

    it('login: an unknown email and a wrong password get the same status, body and headers', async () => {
      const { owner } = await ownerSession(ctx.app);
      const password = secretLike('wrong');
      const wrongPassword = await login(owner.email, password);
      const unknownEmail = await login(uniqueEmail('nobody'), password);
      expectProblem(wrongPassword, 401, 'invalid_credentials', [password]);
      expectProblem(unknownEmail, 401, 'invalid_credentials', [password]);
      assertSameAnswer(wrongPassword, unknownEmail);
    });

    it('login: an unknown email takes as long as a wrong password, and both pay for bcrypt', async (t) => {
      const { owner } = await ownerSession(ctx.app);
      const unknown = uniqueEmail('nobody');
      const hash = await hashPassword('a password to compare with', ctx.app.config.bcryptCost);
      const time = async (fn: () => Promise<unknown>) => {
        const started = performance.now();
        await fn();
        return performance.now() - started;
      };
      // Warm both paths (the dummy hash is computed on first use), then interleave to share any noise.
      await login(owner.email, 'wrong-password-0');
      await login(unknown, 'wrong-password-0');
      const known: number[] = [];
      const missing: number[] = [];
      const bcrypt: number[] = [];
      for (let i = 1; i <= 7; i += 1) {
        known.push(await time(() => login(owner.email, `wrong-password-${i}`)));
        missing.push(await time(() => login(unknown, `wrong-password-${i}`)));
        bcrypt.push(await time(() => verifyPassword(`wrong-password-${i}`, hash)));
      }
      const [k, m, b] = [median(known), median(missing), median(bcrypt)];
      const report = `medians: wrong password ${k.toFixed(1)} ms, unknown email ${m.toFixed(1)} ms, bcrypt ${b.toFixed(1)} ms`;
      t.diagnostic(report);
      assert.ok(m / k >= 0.5 && m / k <= 2, report);
      // Both run one bcrypt comparison; 0.8 leaves room for noise (without it the unknown path takes ~5 ms).
      assert.ok(k >= 0.8 * b, report);
      assert.ok(m >= 0.8 * b, report);
    });

    it('forgot-password: the same status, body and headers for an existing and an unknown email', async () => {
      const { owner } = await ownerSession(ctx.app);
      const nobody = uniqueEmail('nobody');
      const existing = await send(ctx.app, 'POST', '/v1/auth/forgot-password', {
        json: { email: owner.email },
      });
      const unknown = await send(ctx.app, 'POST', '/v1/auth/forgot-password', { json: { email: nobody } });
      assert.equal(existing.status, 202, existing.text);
      assertSameAnswer(existing, unknown);
      // Control: the two requests really took different paths after the answer.
      await ctx.app.settle();
      const mails = async (to: string) =>
        (await ctx.app.db.selectFrom('mail_outbox').select('kind').where('to_address', '=', to).execute())
          .length;
      assert.equal(await mails(owner.email), 1);
      assert.equal(await mails(nobody), 0);
    });

    it('set-password: a wrong temporary password, an unknown email and an already-chosen password answer alike', async () => {
      const fresh = await createTenant(ctx.app);
      const chosen = await ownerSession(ctx.app);
      const newPassword = secretLike('new-password');
      const attempt = (email: string, temporary: string) =>
        send(ctx.app, 'POST', '/v1/auth/set-password', {
          json: { email, temporary_password: temporary, new_password: newPassword },
        });
      const wrongTemporary = await attempt(fresh.owner.email, 'not-the-temporary-one');
      const unknownEmail = await attempt(uniqueEmail('nobody'), 'not-the-temporary-one');
      // The right (current) password of an account that is no longer temporary says nothing either.
      const notTemporary = await attempt(chosen.owner.email, STRONG_PASSWORD);
      for (const res of [wrongTemporary, unknownEmail, notTemporary]) {
        expectProblem(res, 401, 'invalid_credentials', [newPassword, STRONG_PASSWORD]);
      }
      assertSameAnswer(wrongTemporary, unknownEmail);
      assert.equal(wrongTemporary.status, notTemporary.status);
      assert.deepEqual(withoutRequestId(wrongTemporary.body), withoutRequestId(notTemporary.body));
    });
  },
  { options: { now: () => frozen } },
);
