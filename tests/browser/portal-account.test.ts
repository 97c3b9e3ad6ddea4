/**
 * The developer portal's session and people pages in Chromium (tests/support/browser.ts): the first
 * sign-in with a temporary password, the team (add with a role and a temporary password shown once,
 * change role, remove), the audit log (newest first, paged), silent refresh before the access token
 * expires (the page's clock fast-forwarded; the server's tokens are real) and a refused refresh ending
 * the session, sign-out clearing every credential, and forgot/reset password through the link in the
 * mail the service really sends (a local SMTP server). No secret may ever appear in a request URL.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { containsSecret } from '../../lib/vocabulary.js';
import {
  apiLogin,
  browserMissing,
  createTenant,
  guard,
  launchBrowser,
  overflowsHorizontally,
  type PageGuard,
  type PortalServer,
  seriousAxeViolations,
  startPortalServer,
  uniqueEmail,
} from '../support/browser.js';
import { startSmtpServer, type TestSmtpServer } from '../support/smtp.js';

const missing = browserMissing();

describe('developer portal: sessions, team and audit', { skip: missing ?? false }, () => {
  let smtp: TestSmtpServer;
  let server: PortalServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let watch: PageGuard;
  let tenant: Awaited<ReturnType<typeof createTenant>>;
  const ownerPassword = 'Chosen-owner-pass-7';
  /** A member added in the team step, with the temporary password the portal showed. */
  let mia: { email: string; temporary: string; id: string };

  before(async () => {
    smtp = await startSmtpServer();
    [server, browser] = await Promise.all([startPortalServer({ SMTP_URL: smtp.url }), launchBrowser()]);
    tenant = await createTenant(server, { name: 'Bolt Ledger', setPassword: false });
    context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    page = await context.newPage();
    watch = guard(page);
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
    await smtp?.close();
  });

  const noSecretInAnyUrl = (urls: readonly string[], ...secrets: string[]) => {
    for (const url of urls) {
      assert.ok(!containsSecret(url), `a secret-shaped value in ${url}`);
      for (const secret of secrets) assert.ok(!url.includes(secret), `a secret in ${url}`);
    }
  };

  it('leads a first sign-in with a temporary password to choosing a new one', async () => {
    await page.goto(`${server.origin}/portal/`);
    await page.getByLabel('Email').fill(tenant.owner.email);
    await page.getByLabel('Password').fill(tenant.temporaryPassword);
    watch.expectStatus(403, '/v1/auth');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Choose your password' }).waitFor();
    assert.deepEqual(await seriousAxeViolations(page), []);
    // Two different entries are caught here; a common password is refused by the API, its message shown.
    await page.getByLabel('New password', { exact: true }).fill('password123');
    await page.getByLabel('New password again').fill('password124');
    await page.getByRole('button', { name: 'Set password and sign in' }).click();
    await page.getByRole('alert').getByText('The two passwords differ').waitFor();
    await page.getByLabel('New password again').fill('password123');
    watch.expectStatus(422, '/v1/auth/set-password');
    await page.getByRole('button', { name: 'Set password and sign in' }).click();
    await page.locator('.field-error').waitFor();
    assert.match(await page.locator('.field-error').innerText(), /common/i);
    await page.getByLabel('New password', { exact: true }).fill(ownerPassword);
    await page.getByLabel('New password again').fill(ownerPassword);
    await page.getByRole('button', { name: 'Set password and sign in' }).click();
    await page.getByRole('heading', { name: 'API keys' }).waitFor();
    assert.equal(
      (await server.api('POST', '/v1/auth', { json: { email: tenant.owner.email, password: ownerPassword } }))
        .status,
      200,
    );
    noSecretInAnyUrl(watch.urls, tenant.temporaryPassword, ownerPassword);
    watch.check();
  });

  it('manages the team: add with a role (temporary password shown once), change role, remove', async () => {
    await page.getByRole('link', { name: 'Team' }).click();
    await page.getByRole('heading', { name: 'Team' }).waitFor();
    await page.getByRole('rowheader', { name: /Olu Owner \(you\)/ }).waitFor();
    // An admin to be, then changed to member, then removed.
    const emailA = uniqueEmail('ada');
    await page.getByRole('button', { name: 'Add member' }).click();
    const dialog = page.getByRole('dialog', { name: 'Add a team member' });
    assert.deepEqual(await dialog.getByLabel('Role').locator('option').allInnerTexts(), [
      'owner',
      'admin',
      'member',
    ]);
    await dialog.getByLabel('Email').fill(emailA);
    await dialog.getByLabel('Name').fill('Ada Admin');
    await dialog.getByLabel('Role').selectOption('admin');
    await dialog.getByRole('button', { name: 'Add member' }).click();
    const shown = page.getByRole('dialog', { name: 'Ada Admin was added' });
    const temporaryA = (await shown.locator('[data-secret]').innerText()).trim();
    assert.match(temporaryA, /^[A-Za-z0-9]{24}$/);
    assert.match(await shown.innerText(), /only time it is shown/);
    await shown.getByRole('button', { name: 'Done' }).click();
    await shown.waitFor({ state: 'detached' });
    assert.ok(!(await page.content()).includes(temporaryA), 'the temporary password left the page');
    const rowA = page.locator('tr', { hasText: emailA });
    assert.equal(await rowA.getByLabel('Role of Ada Admin').inputValue(), 'admin');

    await rowA.getByLabel('Role of Ada Admin').selectOption('member');
    await page.getByRole('status').getByText('Ada Admin is now a member.').waitFor();
    const token = await apiLogin(server, tenant.owner.email, ownerPassword);
    const list = await server.api('GET', `/v1/tenants/${tenant.id}/team-members`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(list.body.data.find((m: { email: string }) => m.email === emailA).role, 'member');

    // A member who stays (signs in later with the temporary password the portal showed).
    const emailM = uniqueEmail('mia');
    await page.getByRole('button', { name: 'Add member' }).click();
    await dialog.getByLabel('Email').fill(emailM);
    await dialog.getByLabel('Name').fill('Mia Member');
    await dialog.getByRole('button', { name: 'Add member' }).click();
    const shownM = page.getByRole('dialog', { name: 'Mia Member was added' });
    mia = { email: emailM, temporary: (await shownM.locator('[data-secret]').innerText()).trim(), id: '' };
    await shownM.getByRole('button', { name: 'Done' }).click();
    const rowM = page.locator('tr', { hasText: emailM });
    await rowM.waitFor();
    mia.id = (await rowM.getAttribute('data-member-id')) ?? '';

    // An email that has an account: the API's 409 is shown as it says it.
    await page.getByRole('button', { name: 'Add member' }).click();
    await dialog.getByLabel('Email').fill(emailA);
    await dialog.getByLabel('Name').fill('Ada Again');
    watch.expectStatus(409, '/team-members');
    await dialog.getByRole('button', { name: 'Add member' }).click();
    await dialog
      .getByRole('alert')
      .getByText(/already exists/)
      .waitFor();
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });

    await rowA.getByRole('button', { name: 'Remove Ada Admin' }).click();
    const confirm = page.getByRole('dialog', { name: 'Remove Ada Admin?' });
    assert.match(await confirm.innerText(), new RegExp(emailA.replace(/\./g, '\\.')));
    await confirm.getByRole('button', { name: 'Remove Ada Admin' }).click();
    await rowA.waitFor({ state: 'detached' });
    await page.getByRole('status').getByText('Ada Admin was removed from the team.').waitFor();
    assert.deepEqual(await seriousAxeViolations(page), []);
    noSecretInAnyUrl(watch.urls, temporaryA, mia.temporary);
    watch.check();
  });

  it('shows the audit log newest first, a page at a time', async () => {
    const token = await apiLogin(server, tenant.owner.email, ownerPassword);
    const events = async (cursor?: string) =>
      (
        await server.api(
          'GET',
          `/v1/tenants/${tenant.id}/audit-events?limit=20${cursor ? `&cursor=${cursor}` : ''}`,
          {
            headers: { authorization: `Bearer ${token}` },
          },
        )
      ).body;
    // Enough events for two pages: a few more logins.
    for (let i = 0; i < 25; i++) await apiLogin(server, tenant.owner.email, ownerPassword);
    const auditAnswer = () => page.waitForResponse((r) => r.url().includes('/audit-events'));
    let answered = auditAnswer();
    await page.getByRole('link', { name: 'Audit log' }).click();
    await answered;
    await page.getByRole('heading', { name: 'Audit log' }).waitFor();
    const first = await events();
    assert.ok(first.next_cursor, 'more than one page of events');
    const times = first.data.map((e: { created_at: string }) => Date.parse(e.created_at));
    assert.deepEqual(
      times,
      [...times].sort((a, b) => b - a),
      'the API answers newest first',
    );
    const shownActions = () => page.locator('tbody tr th code').allInnerTexts();
    // The page may have loaded before the latest apiLogin above was audited: compare with a fresh read.
    answered = auditAnswer();
    await page.reload(); // a reload stays on the audit log
    await answered;
    await page.locator('tbody tr').first().waitFor();
    const firstPage = await events();
    assert.equal(firstPage.data.length, 20);
    assert.deepEqual(
      await shownActions(),
      firstPage.data.map((e: { action: string }) => e.action),
    );
    await page.getByRole('button', { name: 'Older →' }).click();
    await page.getByRole('status').getByText('Page 2').waitFor();
    const second = await events(firstPage.next_cursor);
    assert.deepEqual(
      await shownActions(),
      second.data.map((e: { action: string }) => e.action),
    );
    await page.getByRole('button', { name: '← Newer' }).click();
    await page.getByRole('status').getByText('Page 1').waitFor();
    assert.equal(await page.getByRole('button', { name: '← Newer' }).isDisabled(), true);
    assert.deepEqual(await seriousAxeViolations(page), []);
    watch.check();
  });

  it('refreshes the session silently before the access token expires, and ends it when a refresh is refused', async () => {
    const token = await apiLogin(server, tenant.owner.email, ownerPassword);
    const key = await server.api('POST', '/v1/api-keys', {
      headers: { authorization: `Bearer ${token}` },
      json: { name: 'Billing sync', tier: 'public', scopes: ['invoices'] },
    });
    assert.equal(key.status, 201);
    const miaPassword = 'Mia-chosen-pass-9';
    const set = await server.api('POST', '/v1/auth/set-password', {
      json: { email: mia.email, temporary_password: mia.temporary, new_password: miaPassword },
    });
    assert.equal(set.status, 200);

    const miaContext = await browser.newContext();
    const miaPage = await miaContext.newPage();
    const miaWatch = guard(miaPage);
    await miaPage.clock.install();
    const bearers: string[] = [];
    miaPage.on('request', (request) => {
      const auth = request.headers().authorization;
      if (auth && request.url().includes('/v1/api-keys')) bearers.push(auth);
    });
    await miaPage.goto(`${server.origin}/portal/`);
    await miaPage.getByLabel('Email').fill(mia.email);
    await miaPage.getByLabel('Password').fill(miaPassword);
    await miaPage.getByRole('button', { name: 'Sign in' }).click();
    await miaPage.getByRole('heading', { name: 'API keys' }).waitFor();
    const firstBearer = bearers.at(-1);
    assert.ok(firstBearer);

    // 14 minutes later (the access token lives 15), the portal refreshes without being asked.
    const refreshed = miaPage.waitForResponse((r) => r.url().endsWith('/v1/auth/refresh'));
    await miaPage.clock.fastForward('14:05');
    const answer = await refreshed;
    assert.equal(answer.status(), 200);
    const pair = await answer.json();
    await miaPage.getByRole('link', { name: 'Usage of Billing sync' }).click();
    await miaPage.getByRole('heading', { name: 'Usage of “Billing sync”' }).waitFor();
    assert.equal(bearers.at(-1), `Bearer ${pair.access_token}`);
    assert.notEqual(bearers.at(-1), firstBearer);
    assert.equal(
      await miaPage.evaluate(() => sessionStorage.getItem('heir.portal.refresh')),
      pair.refresh_token,
    );

    // The owner makes Mia an admin: a role change ends her sessions, so her next refresh is refused.
    const promote = await server.api('PATCH', `/v1/tenants/${tenant.id}/team-members/${mia.id}`, {
      headers: { authorization: `Bearer ${token}` },
      json: { role: 'admin' },
    });
    assert.equal(promote.status, 200, JSON.stringify(promote.body));
    miaWatch.expectStatus(401, '/v1/auth/refresh');
    await miaPage.clock.fastForward('14:05');
    await miaPage.getByRole('heading', { name: 'Sign in to the developer portal' }).waitFor();
    await miaPage.getByRole('status').getByText('Your session has ended. Please sign in again.').waitFor();
    assert.equal(await miaPage.evaluate(() => sessionStorage.length), 0);
    assert.equal(await miaPage.getByText('Billing sync').count(), 0);
    noSecretInAnyUrl(miaWatch.urls, miaPassword);
    miaWatch.check();
    await miaContext.close();
  });

  it('signs out: the login is revoked and nothing of it stays in the tab', async () => {
    await page.getByRole('link', { name: 'API keys' }).click();
    await page.getByRole('heading', { name: 'API keys' }).waitFor();
    const stored = await page.evaluate(() => ({
      session: Object.keys(sessionStorage),
      local: localStorage.length,
      cookies: document.cookie,
      refresh: sessionStorage.getItem('heir.portal.refresh'),
    }));
    // The access token lives in memory only: the refresh token is all the tab stores.
    assert.deepEqual(stored.session, ['heir.portal.refresh']);
    assert.equal(stored.local, 0);
    assert.equal(stored.cookies, '');
    assert.match(stored.refresh ?? '', /^rt_/);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in to the developer portal' }).waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    assert.doesNotMatch(await page.content(), /Bolt Ledger|Billing sync/);
    const reuse = await server.api('POST', '/v1/auth/refresh', { json: { refresh_token: stored.refresh } });
    assert.equal(reuse.status, 401, 'the signed-out login cannot be refreshed');
    // A reload does not bring the session back.
    await page.reload();
    await page.getByRole('heading', { name: 'Sign in to the developer portal' }).waitFor();
    watch.check();
  });

  it('resets a forgotten password through the link in the mail; the token leaves the address bar', async () => {
    await page.getByRole('link', { name: 'Forgot your password?' }).click();
    await page.getByRole('heading', { name: 'Forgot your password?' }).waitFor();
    assert.deepEqual(await seriousAxeViolations(page), []);
    await page.getByLabel('Email').fill(tenant.owner.email);
    await page.getByRole('button', { name: 'Send reset link' }).click();
    await page.getByRole('status').waitFor();
    let link: string | undefined;
    for (let i = 0; i < 300 && !link; i++) {
      const mail = smtp.to(tenant.owner.email).at(-1);
      link = mail
        ? new RegExp(`${server.origin}/reset-password#token=[A-Za-z0-9_-]+`).exec(mail.text)?.[0]
        : undefined;
      if (!link) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(link, 'the reset mail arrived with a link to the portal');
    const token = link.split('#token=')[1] ?? '';

    await page.goto(link);
    await page.getByRole('heading', { name: 'Reset your password' }).waitFor();
    assert.equal(page.url(), `${server.origin}/reset-password`, 'the token is gone from the address bar');
    assert.ok(
      !(
        await page.evaluate(() => (history.state === null ? location.href : JSON.stringify(history.state)))
      ).includes(token),
    );
    assert.deepEqual(await seriousAxeViolations(page), []);
    const newPassword = 'Reset-owner-pass-3';
    await page.getByLabel('New password', { exact: true }).fill(newPassword);
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.getByText('Your password has been changed').waitFor();
    await page.getByRole('link', { name: 'Sign in' }).click();
    await page.getByLabel('Email').fill(tenant.owner.email);
    await page.getByLabel('Password').fill(newPassword);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'API keys' }).waitFor();

    // The spent link now answers with a clear message and a way on.
    await page.goto(link);
    await page.getByLabel('New password', { exact: true }).fill('Another-pass-4');
    watch.expectStatus(400, '/v1/auth/reset-password');
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.getByRole('alert').waitFor();
    assert.match(await page.getByRole('alert').innerText(), /reset/i);
    await page.getByRole('link', { name: 'Ask for a new link' }).waitFor();
    noSecretInAnyUrl(
      watch.urls.filter((url) => !url.startsWith(`${server.origin}/reset-password#`)),
      token,
      newPassword,
    );
    watch.check();
  });

  it('fits a phone-sized screen on the team and audit pages', async () => {
    const phone = await browser.newContext({
      viewport: { width: 390, height: 844 },
      isMobile: true,
      hasTouch: true,
    });
    const phonePage = await phone.newPage();
    const phoneWatch = guard(phonePage);
    await phonePage.goto(`${server.origin}/portal/`);
    await phonePage.getByLabel('Email').fill(tenant.owner.email);
    await phonePage.getByLabel('Password').fill('Reset-owner-pass-3');
    await phonePage.getByRole('button', { name: 'Sign in' }).click();
    await phonePage.getByRole('heading', { name: 'API keys' }).waitFor();
    for (const [route, heading] of [
      ['#/team', 'Team'],
      ['#/audit', 'Audit log'],
    ] as const) {
      await phonePage.goto(`${server.origin}/portal/${route}`);
      await phonePage.getByRole('heading', { name: heading }).waitFor();
      await phonePage.locator('tbody tr').first().waitFor();
      assert.equal(await overflowsHorizontally(phonePage), false, route);
    }
    phoneWatch.check();
    await phone.close();
  });
});
