/**
 * Account enumeration (OWASP Authentication and Forgot Password cheat sheets): whether an email has an
 * account must not show in the status, body, headers or timing of login, set-password or forgot-password.
 * Timing is shown by counting the work each path does (bcrypt runs and their cost), never by comparing
 * durations. The clock is frozen so that rate-limit headers (`t=` seconds left) compare byte for byte.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import bcrypt from 'bcryptjs';
import { verifyPassword } from '../../lib/identity/password.js';
import type { CallResult } from '../support/client.js';
import { createTenant, ownerSession, STRONG_PASSWORD, uniqueEmail } from '../support/fixtures.js';
import { forEachBackend } from '../support/harness.js';
import {
  expectProblem,
  headersWithoutRequestId,
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

    it('login: an unknown email and a wrong password each run exactly one bcrypt comparison of the same cost', async (t) => {
      // Counted, not timed: a duration comparison breaks on a loaded machine (durations: npm run bench).
      const { owner } = await ownerSession(ctx.app);
      const unknown = uniqueEmail('nobody');
      await ctx.app.settle();
      const compare = t.mock.method(bcrypt, 'compare');
      const hash = t.mock.method(bcrypt, 'hash');
      const work = async (email: string, password: string) => {
        compare.mock.resetCalls();
        hash.mock.resetCalls();
        const res = await login(email, password);
        expectProblem(res, 401, 'invalid_credentials', [password]);
        return {
          hashes: hash.mock.callCount(),
          costs: compare.mock.calls.map((call) => bcrypt.getRounds(call.arguments[1] as string)),
        };
      };
      const expected = { hashes: 0, costs: [ctx.app.config.bcryptCost] };
      // The first unknown email of a process is no exception (no dummy hash is computed on first use).
      for (let i = 0; i < 3; i += 1) {
        assert.deepEqual(await work(unknown, `wrong-password-${i}`), expected, `unknown email, try ${i}`);
        assert.deepEqual(
          await work(owner.email, `wrong-password-${i}`),
          expected,
          `wrong password, try ${i}`,
        );
      }
      const stored = await ctx.app.db
        .selectFrom('users')
        .select('password_hash')
        .where('id', '=', owner.id)
        .executeTakeFirstOrThrow();
      assert.equal(
        bcrypt.getRounds(stored.password_hash),
        ctx.app.config.bcryptCost,
        'the account hash has that cost',
      );
      // Control: the counter sees a comparison when there is one to see.
      compare.mock.resetCalls();
      assert.equal(await verifyPassword('anything', stored.password_hash), false);
      assert.equal(compare.mock.callCount(), 1);
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
