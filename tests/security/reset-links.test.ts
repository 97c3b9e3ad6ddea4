/**
 * Password reset links (OWASP Forgot Password cheat sheet): the link is built from APP_URL alone, never
 * from Host or X-Forwarded-Host (host header poisoning would mail a victim a link to the attacker's site,
 * token included), and the token never reaches the audit log or a log line.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { it } from 'node:test';
import { createLogger } from '../../lib/log.js';
import { call } from '../support/client.js';
import { ownerSession, uniqueEmail } from '../support/fixtures.js';
import { forEachBackend } from '../support/harness.js';
import { randomIp, secretLike, send } from '../support/security.js';

const APP_URL = 'https://portal.heir.test';
const lines: string[] = [];
const HOSTILE = {
  host: 'evil.example',
  'x-forwarded-host': 'evil.example',
  'x-forwarded-proto': 'http',
  'x-forwarded-server': 'evil.example',
  'x-original-host': 'evil.example',
  forwarded: 'host=evil.example;proto=http',
  origin: 'https://evil.example',
  referer: 'https://evil.example/reset',
};

forEachBackend(
  'password reset links',
  (ctx) => {
    async function resetMail(email: string) {
      await ctx.app.settle();
      const mails = await ctx.app.db
        .selectFrom('mail_outbox')
        .selectAll()
        .where('to_address', '=', email)
        .where('kind', '=', 'password_reset')
        .execute();
      assert.equal(mails.length, 1, 'one reset mail');
      return mails[0] as (typeof mails)[number];
    }

    it('the mailed link starts with APP_URL whatever Host and X-Forwarded-Host say', async () => {
      const { owner } = await ownerSession(ctx.app);
      // A request that reached us under the attacker's host name: in request.url and in the headers.
      const res = await call(ctx.app, 'POST', 'https://evil.example/v1/auth/forgot-password', {
        headers: HOSTILE,
        json: { email: owner.email },
        ip: randomIp(),
      });
      assert.equal(res.status, 202, res.text);
      const mail = await resetMail(owner.email);
      const links = mail.body.match(/\bhttps?:\/\/\S+/g) ?? [];
      assert.equal(links.length, 1, mail.body);
      assert.match(links[0] ?? '', /^https:\/\/portal\.heir\.test\/reset-password#token=[\w-]{43}$/);
      assert.ok((links[0] ?? '').startsWith(`${APP_URL}/`));
      assert.ok(!JSON.stringify(mail).includes('evil.example'), 'the attacker host appears in the mail');
    });

    it('the token never reaches the audit log or a log line, through request, check and use', async () => {
      const { owner, tenantId } = await ownerSession(ctx.app);
      lines.length = 0;
      const asked = await send(ctx.app, 'POST', '/v1/auth/forgot-password', {
        headers: HOSTILE,
        json: { email: owner.email },
      });
      assert.equal(asked.status, 202, asked.text);
      const mail = await resetMail(owner.email);
      const token = /#token=([\w-]+)/.exec(mail.body)?.[1] ?? '';
      assert.equal(token.length, 43);
      const tokenHash = createHash('sha256').update(token).digest('hex');
      const password = secretLike('New password');
      const checked = await send(ctx.app, 'GET', `/v1/auth/validate-reset-token/${token}`);
      assert.equal(checked.status, 200, checked.text);
      const reset = await send(ctx.app, 'POST', '/v1/auth/reset-password', { json: { token, password } });
      assert.equal(reset.status, 200, reset.text);
      const spent = await send(ctx.app, 'GET', `/v1/auth/validate-reset-token/${token}`);
      assert.equal(spent.body.code, 'invalid_reset_token');
      // Forgot-password for an address with no account is logged too; it must not log the address' token.
      await send(ctx.app, 'POST', '/v1/auth/forgot-password', { json: { email: uniqueEmail('nobody') } });
      await ctx.app.settle();

      const events = await ctx.app.db
        .selectFrom('audit_events')
        .selectAll()
        .where('tenant_id', '=', tenantId)
        .execute();
      const actions = events.map((event) => event.action);
      assert.ok(actions.includes('auth.password_reset_requested') && actions.includes('auth.password_reset'));
      // Lines were written (the check below is not vacuous), including the token's own requests.
      assert.ok(
        lines.some((line) => line.includes('validate-reset-token')),
        lines.join('\n'),
      );
      for (const [where, text] of [
        ['audit log', JSON.stringify(events)],
        ['log', lines.join('\n')],
      ] as const) {
        assert.ok(!text.includes(token), `the reset token is in the ${where}`);
        assert.ok(!text.includes(tokenHash), `the reset token's hash is in the ${where}`);
        assert.ok(!text.includes(password), `the new password is in the ${where}`);
      }
      // Only the hash is stored.
      const stored = await ctx.app.db.selectFrom('password_reset_tokens').select('token_hash').execute();
      assert.ok(stored.some((row) => row.token_hash === tokenHash));
      assert.ok(stored.every((row) => row.token_hash !== token));
    });
  },
  { options: { log: createLogger('debug', (line) => lines.push(line)) } },
);
