/**
 * The developer portal's key pages in Chromium (tests/support/browser.ts): sign-in, the key list, create
 * (tiers up to the tenant's max_tier, scopes of the tier, the key shown once with a copy button), edit
 * with the API's field errors next to the fields, rotate with a chosen grace period, revoke with a
 * confirmation naming the key, the usage chart, what a member may not do, axe-core and a phone-sized
 * screen. Each step checks the API's side too (the created key works, the revoked one does not). Saves
 * the screenshots linked from the README to docs/screenshots/.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { secretShapes } from '../../lib/vocabulary.js';
import { TEST_ADMIN_KEY } from '../support/backends.js';
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
  type TestTenant,
  uniqueEmail,
} from '../support/browser.js';
import { awayFromWindowEnd } from '../support/windows.js';

const screenshots = fileURLToPath(new URL('../../docs/screenshots/', import.meta.url));
const missing = browserMissing();

async function signIn(page: Page, origin: string, email: string, password: string): Promise<void> {
  await page.goto(`${origin}/portal/`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'API keys' }).waitFor();
}

describe('developer portal: API keys', { skip: missing ?? false }, () => {
  let server: PortalServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let watch: PageGuard;
  let tenant: TestTenant;
  let ownerToken: string;
  let member: { email: string; password: string };
  /** The key made in the create step, as the browser showed it. */
  let erpKey: string;
  let erpId: string;

  const verify = async (key: string) =>
    (
      await server.api('POST', '/v1/keys/verify', {
        headers: { 'x-admin-key': TEST_ADMIN_KEY },
        json: { key, ip: '127.0.0.1' },
      })
    ).body;

  before(async () => {
    [server, browser] = await Promise.all([startPortalServer(), launchBrowser()]);
    tenant = await createTenant(server, { name: 'Acme Freight', maxTier: 'partner' });
    ownerToken = await apiLogin(server, tenant.owner.email, tenant.owner.password);
    const memberEmail = uniqueEmail('member');
    const added = await server.api('POST', `/v1/tenants/${tenant.id}/team-members`, {
      headers: { authorization: `Bearer ${ownerToken}` },
      json: { email: memberEmail, name: 'Mo Member', role: 'member' },
    });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    member = { email: memberEmail, password: 'Portal-member-pass-1' };
    const set = await server.api('POST', '/v1/auth/set-password', {
      json: {
        email: memberEmail,
        temporary_password: added.body.temporary_password,
        new_password: member.password,
      },
    });
    assert.equal(set.status, 200);
    context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.origin });
    page = await context.newPage();
    watch = guard(page);
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('signs in with the keyboard alone, after a wrong password is refused with a clear message', async () => {
    // The dev server sends vercel.json's headers, as Vercel does: the CSP the page must live with.
    const vercel = JSON.parse(readFileSync(new URL('../../vercel.json', import.meta.url), 'utf8'));
    const wanted: { key: string; value: string }[] = vercel.headers[0].headers;
    for (const path of ['/portal/', '/reset-password', '/app/portal.js']) {
      const response = await fetch(`${server.origin}${path}`);
      assert.equal(response.status, 200, path);
      for (const { key, value } of wanted) assert.equal(response.headers.get(key), value, `${path} ${key}`);
    }
    await page.goto(`${server.origin}/portal/`);
    await page.getByRole('heading', { name: 'Sign in to the developer portal' }).waitFor();
    await page.keyboard.press('Tab'); // the first control is the email field
    await page.keyboard.type(tenant.owner.email);
    await page.keyboard.press('Tab');
    await page.keyboard.type('not-the-password');
    watch.expectStatus(401, '/v1/auth');
    await page.keyboard.press('Enter');
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.innerText(), /invalid|incorrect|wrong/i);
    await page.getByLabel('Password').fill(tenant.owner.password);
    await page.getByLabel('Password').press('Enter');
    await page.getByRole('heading', { name: 'API keys' }).waitFor();
    // The heading shows before the list has loaded: wait for the list's answer, not a fixed moment.
    await page.getByText('No API keys yet').waitFor();
    assert.match(await page.locator('main').innerText(), /No API keys yet/);
    assert.match(
      await page.locator('header').innerText(),
      new RegExp(`${tenant.owner.email}.*owner of Acme Freight`),
    );
    watch.check();
  });

  it('creates a key: tiers up to max_tier, the tier’s scopes, shown once with a copy button and a warning', async () => {
    await page.getByRole('button', { name: 'Create API key' }).click();
    const dialog = page.getByRole('dialog', { name: 'Create API key' });
    await dialog.waitFor();
    const tier = dialog.getByLabel('Tier');
    assert.deepEqual(await tier.locator('option').allInnerTexts(), ['public', 'partner']);
    const scopes = () =>
      dialog.getByRole('checkbox').evaluateAll((boxes) => boxes.map((b) => (b as HTMLInputElement).value));
    assert.deepEqual(await scopes(), ['contracts', 'vaults', 'invoices', 'settings', 'team', 'credentials']);
    await tier.selectOption('partner');
    assert.deepEqual(await scopes(), [
      'contracts',
      'vaults',
      'invoices',
      'settings',
      'team',
      'credentials',
      'webhooks',
      'embed',
    ]);
    await dialog.getByRole('checkbox', { name: 'webhooks' }).check();
    await tier.selectOption('public'); // a scope the tier cannot carry is dropped
    assert.equal(await dialog.getByRole('checkbox', { name: 'webhooks' }).count(), 0);

    await dialog.getByLabel('Name').fill('ERP production');
    await dialog.getByRole('checkbox', { name: 'invoices' }).check();
    await dialog.getByRole('checkbox', { name: 'contracts' }).check();
    await dialog.getByLabel('Expires in days (optional)').fill('30');
    const created = page.waitForResponse(
      (r) => r.url().endsWith('/v1/api-keys') && r.request().method() === 'POST',
    );
    await dialog.getByRole('button', { name: 'Create key' }).click();
    const body = await (await created).json();
    const shown = page.getByRole('dialog', { name: 'Your new key “ERP production”' });
    await shown.waitFor();
    erpKey = (await shown.locator('[data-secret]').innerText()).trim();
    erpId = body.id;
    assert.match(erpKey, secretShapes.apiKey.exact);
    assert.equal(erpKey, body.key);
    assert.match(await shown.innerText(), /only time the key is shown/);
    await shown.getByRole('button', { name: 'Copy' }).click();
    await shown.getByText('Copied to the clipboard.').waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), erpKey);
    await page.screenshot({ path: `${screenshots}create-key.png` });
    // The key works for its integration.
    const whoami = await server.api('GET', '/v1/whoami', { headers: { 'x-api-key': erpKey } });
    assert.equal(whoami.status, 200);
    assert.equal(whoami.body.key_id, erpId);

    await shown.getByRole('button', { name: 'I have stored the key' }).click();
    await shown.waitFor({ state: 'detached' });
    assert.ok(!(await page.content()).includes(erpKey), 'the key is gone from the page once dismissed');
    const row = page.locator(`tr[data-key-id="${erpId}"]`);
    await row.waitFor();
    const text = await row.innerText();
    assert.match(text, /ERP production/);
    assert.ok(text.includes(`heir_pk_…${erpKey.slice(-4)}`), text);
    assert.match(text, /public/);
    assert.match(text, /contracts, invoices|invoices, contracts/);
    assert.match(text, /active/);
    assert.ok(!text.includes(erpKey));
    // An IP allow-list and the partner tier.
    await page.getByRole('button', { name: 'Create API key' }).click();
    const second = page.getByRole('dialog', { name: 'Create API key' });
    await second.getByLabel('Name').fill('Partner webhooks');
    await second.getByLabel('Tier').selectOption('partner');
    await second.getByRole('checkbox', { name: 'webhooks' }).check();
    await second.getByLabel('Allowed IP addresses (optional)').fill('198.51.100.7\n2001:db8::/32');
    // Progress while the request waits: the request is held back (not answered) until the busy
    // state has been seen, then goes to the server unchanged.
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let continued: Promise<void> = Promise.resolve();
    await page.route('**/v1/api-keys', async (route) => {
      continued = held.then(() => route.continue());
      await continued;
    });
    await second.getByRole('button', { name: 'Create key' }).click();
    const busy = second.getByRole('button', { name: 'Creating…' });
    await busy.waitFor();
    assert.equal(await busy.isDisabled(), true);
    assert.equal(await busy.getAttribute('aria-busy'), 'true');
    release();
    await continued;
    await page.unroute('**/v1/api-keys');
    const secondShown = page.getByRole('dialog', { name: 'Your new key “Partner webhooks”' });
    const partnerKey = (await secondShown.locator('[data-secret]').innerText()).trim();
    assert.match(partnerKey, /^heir_pt_/);
    await secondShown.getByRole('button', { name: 'I have stored the key' }).click();
    await page.locator('tr', { hasText: 'Partner webhooks' }).waitFor();
    const listed = await server.api('GET', '/v1/api-keys', {
      headers: { authorization: `Bearer ${ownerToken}` },
    });
    const partner = listed.body.data.find((k: { name: string }) => k.name === 'Partner webhooks');
    assert.deepEqual(partner.ip_whitelist, ['198.51.100.7', '2001:db8::/32']);
    assert.deepEqual(partner.scopes, ['webhooks']);
    watch.check();
  });

  it('shows usage: last use (when and from where), the 24-hour chart and the remaining quota', async () => {
    // 105 requests in one window (counting those the create step made): the public tier allows 100, so 5 are
    // limited (answered 429). The window must not end half-way; if it is about to, start in the next.
    await awayFromWindowEnd(30);
    const before = await server.api('GET', `/v1/api-keys/${erpId}/usage`, {
      headers: { authorization: `Bearer ${ownerToken}` },
    });
    const already: number = before.body.windows.at(-1).requests;
    // Uses in earlier windows (the create step's, when the wait above crossed into a new window) count
    // in the 24-hour total the chart's caption gives.
    const earlier: number = before.body.windows
      .slice(0, -1)
      .reduce((sum: number, w: { requests: number }) => sum + w.requests, 0);
    const statuses = await Promise.all(
      Array.from({ length: 105 - already }, () =>
        fetch(`${server.origin}/v1/whoami`, { headers: { 'x-api-key': erpKey } }).then((r) => r.status),
      ),
    );
    assert.equal(statuses.filter((s) => s === 429).length, 5);
    assert.equal(statuses.length, 105 - already);
    // The last use is written after the response: wait until the API reports it.
    for (let i = 0; i < 100; i++) {
      const usage = await server.api('GET', `/v1/api-keys/${erpId}/usage`, {
        headers: { authorization: `Bearer ${ownerToken}` },
      });
      if (usage.body.last_used_ip) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const seen = watch.urls.length;
    await page.reload(); // the session survives a reload in the same tab (refresh token in sessionStorage)
    const row = page.locator(`tr[data-key-id="${erpId}"]`);
    await row.getByText('from 127.0.0.1').waitFor();
    assert.deepEqual(
      watch.urls.slice(seen).filter((url) => url.includes('/usage')),
      [],
      'the list shows where a key was last used from the key object alone',
    );
    await page.screenshot({ path: `${screenshots}keys-list.png` });

    await row.getByRole('link', { name: 'Usage of ERP production' }).click();
    await page.getByRole('heading', { name: 'Usage of “ERP production”' }).waitFor();
    assert.equal(await page.locator('svg rect.bar-requests').count(), 96);
    assert.equal(await page.locator('svg rect.bar-limited').count(), 1);
    assert.match(
      await page.locator('figcaption').innerText(),
      new RegExp(`${105 + earlier} requests, 5\\s+limited`),
    );
    assert.match(await page.getByTestId('remaining').innerText(), /^0 of 100/);
    assert.match(await page.locator('.facts').innerText(), /from 127\.0\.0\.1/);
    await page.screenshot({ path: `${screenshots}usage.png`, fullPage: true });
    await page.getByRole('link', { name: '← All keys' }).click();
    await page.getByRole('heading', { name: 'API keys' }).waitFor();
    watch.check();
  });

  it('edits name, scopes and IP list, showing the API’s field errors next to the fields', async () => {
    await page
      .locator(`tr[data-key-id="${erpId}"]`)
      .getByRole('button', { name: 'Edit ERP production' })
      .click();
    const dialog = page.getByRole('dialog', { name: 'Edit “ERP production”' });
    const ips = dialog.getByLabel('Allowed IP addresses');
    await ips.fill('999.1.1.1');
    watch.expectStatus(422, `/v1/api-keys/${erpId}`);
    await dialog.getByRole('button', { name: 'Save changes' }).click();
    await dialog.locator('.field-error').first().waitFor();
    assert.equal(await ips.getAttribute('aria-invalid'), 'true');
    const describedBy = (await ips.getAttribute('aria-describedby')) ?? '';
    const errorId = describedBy.split(' ').find((id) => id.endsWith('-error'));
    assert.ok(errorId, 'the field points at its error');
    assert.ok((await page.locator(`[id="${errorId}"]`).innerText()).length > 0);

    await dialog.getByLabel('Name').fill('ERP prod');
    await dialog.getByRole('checkbox', { name: 'contracts' }).uncheck();
    await ips.fill('127.0.0.1, 203.0.113.9/24');
    await dialog.getByRole('button', { name: 'Save changes' }).click();
    await dialog.waitFor({ state: 'detached' });
    const row = page.locator(`tr[data-key-id="${erpId}"]`);
    await row.getByRole('rowheader', { name: 'ERP prod', exact: true }).waitFor();
    assert.match(await row.innerText(), /invoices/);
    assert.doesNotMatch(await row.innerText(), /contracts/);
    const saved = await server.api('GET', `/v1/api-keys/${erpId}`, {
      headers: { authorization: `Bearer ${ownerToken}` },
    });
    assert.deepEqual(saved.body.ip_whitelist, ['127.0.0.1', '203.0.113.0/24']);
    assert.deepEqual(saved.body.scopes, ['invoices']);
    watch.check();
  });

  it('rotates with a chosen grace period: the new secret once, the old one’s end shown', async () => {
    await page.locator(`tr[data-key-id="${erpId}"]`).getByRole('button', { name: 'Rotate ERP prod' }).click();
    const dialog = page.getByRole('dialog', { name: 'Rotate “ERP prod”' });
    await dialog.getByLabel('Grace period (hours)').fill('48');
    const rotated = page.waitForResponse((r) => r.url().endsWith(`/v1/api-keys/${erpId}/rotate`));
    await dialog.getByRole('button', { name: 'Rotate key' }).click();
    const body = await (await rotated).json();
    const shown = page.getByRole('dialog', { name: 'New secret for “ERP prod”' });
    await shown.waitFor();
    const newKey = (await shown.locator('[data-secret]').innerText()).trim();
    assert.equal(newKey, body.key);
    assert.notEqual(newKey, erpKey);
    const hours = (Date.parse(body.previous_secret_expires_at) - Date.now()) / 3_600_000;
    assert.ok(hours > 47 && hours <= 48, `grace of ${hours} h`);
    const end = await page.evaluate(
      (iso) => new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' }),
      body.previous_secret_expires_at,
    );
    assert.ok((await shown.innerText()).includes(`keeps working until ${end}`));
    assert.equal((await verify(erpKey)).valid, true, 'the old secret works during the grace period');
    assert.equal((await verify(newKey)).valid, true);
    await shown.getByRole('button', { name: 'I have stored the key' }).click();
    await shown.waitFor({ state: 'detached' });
    assert.ok(!(await page.content()).includes(newKey));
    await page.locator(`tr[data-key-id="${erpId}"]`).getByText('rotating').waitFor();
    watch.check();
  });

  it('revokes with a confirmation that names the key; the key stops working', async () => {
    const row = page.locator('tr', { hasText: 'Partner webhooks' });
    const masked = (await row.locator('code').innerText()).trim();
    await row.getByRole('button', { name: 'Revoke Partner webhooks' }).click();
    const dialog = page.getByRole('dialog', { name: 'Revoke “Partner webhooks”?' });
    assert.ok((await dialog.innerText()).includes(masked));
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });
    await row.getByRole('button', { name: 'Revoke Partner webhooks' }).click();
    await dialog.getByRole('button', { name: 'Revoke “Partner webhooks”' }).click();
    await dialog.waitFor({ state: 'detached' });
    await row.getByText('revoked').waitFor();
    assert.equal(await row.getByRole('button', { name: /Revoke|Edit|Rotate/ }).count(), 0);
    const id = await row.getAttribute('data-key-id');
    const key = await server.api('GET', `/v1/api-keys/${id}`, {
      headers: { authorization: `Bearer ${ownerToken}` },
    });
    assert.equal(key.body.status, 'revoked');
    watch.check();
  });

  it('has no serious accessibility violation on the key pages and dialogs (axe-core)', async () => {
    assert.deepEqual(await seriousAxeViolations(page), []);
    await page.getByRole('button', { name: 'Create API key' }).click();
    await page.getByRole('dialog', { name: 'Create API key' }).waitFor();
    assert.deepEqual(await seriousAxeViolations(page), []);
    await page.keyboard.press('Escape'); // the dialog closes from the keyboard
    await page.getByRole('dialog').waitFor({ state: 'detached' });
    await page.goto(`${server.origin}/portal/#/keys/${erpId}/usage`);
    await page.getByRole('heading', { name: 'Usage of “ERP prod”' }).waitFor();
    assert.deepEqual(await seriousAxeViolations(page), []);
    watch.check();
  });

  it('shows a member the keys and their usage, but nothing a member may not do', async () => {
    const memberContext = await browser.newContext();
    const memberPage = await memberContext.newPage();
    const memberWatch = guard(memberPage);
    await signIn(memberPage, server.origin, member.email, member.password);
    await memberPage.locator(`tr[data-key-id="${erpId}"]`).waitFor();
    assert.equal(await memberPage.getByRole('button', { name: 'Create API key' }).count(), 0);
    assert.equal(await memberPage.getByRole('button', { name: /^(Edit|Rotate|Revoke) / }).count(), 0);
    assert.equal(await memberPage.getByRole('link', { name: 'Team' }).count(), 0);
    assert.equal(await memberPage.getByRole('link', { name: 'Audit log' }).count(), 0);
    await memberPage.getByRole('link', { name: 'Usage of ERP prod' }).click();
    await memberPage.locator('figure.chart svg').waitFor();
    memberWatch.check();
    await memberContext.close();
  });

  it('fits a phone-sized screen (390×844) without sideways scrolling', async () => {
    const phone = await browser.newContext({
      viewport: { width: 390, height: 844 },
      isMobile: true,
      hasTouch: true,
    });
    const phonePage = await phone.newPage();
    const phoneWatch = guard(phonePage);
    await phonePage.goto(`${server.origin}/portal/`);
    await phonePage.getByLabel('Email').waitFor();
    assert.equal(await overflowsHorizontally(phonePage), false, 'sign-in');
    await signIn(phonePage, server.origin, tenant.owner.email, tenant.owner.password);
    await phonePage.locator(`tr[data-key-id="${erpId}"]`).waitFor();
    assert.equal(await overflowsHorizontally(phonePage), false, 'key list');
    await phonePage.getByRole('button', { name: 'Create API key' }).click();
    await phonePage.getByRole('dialog').waitFor();
    assert.equal(await overflowsHorizontally(phonePage), false, 'create dialog');
    await phonePage.keyboard.press('Escape');
    await phonePage.goto(`${server.origin}/portal/#/keys/${erpId}/usage`);
    await phonePage.locator('figure.chart svg').waitFor();
    assert.equal(await overflowsHorizontally(phonePage), false, 'usage');
    phoneWatch.check();
    await phone.close();
  });

  it('pages the key list: 20 at a time, "Load more keys" appends the next page', async () => {
    const listed = await server.api('GET', '/v1/api-keys?limit=100', {
      headers: { authorization: `Bearer ${ownerToken}` },
    });
    const total = 21 + 5;
    for (let i = listed.body.data.length; i < total; i++) {
      const made = await server.api('POST', '/v1/api-keys', {
        headers: { authorization: `Bearer ${ownerToken}` },
        json: { name: `Batch ${i}`, tier: 'public', scopes: ['invoices'] },
      });
      assert.equal(made.status, 201, JSON.stringify(made.body));
    }
    await page.goto(`${server.origin}/portal/#/keys`);
    await page.reload();
    const rows = page.locator('tr[data-key-id]');
    await rows.nth(19).waitFor();
    assert.equal(await rows.count(), 20);
    await page.getByRole('button', { name: 'Load more keys' }).click();
    await rows.nth(total - 1).waitFor();
    assert.equal(await rows.count(), total);
    const ids = await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-key-id')));
    assert.equal(new Set(ids).size, total, 'no key twice');
    assert.equal(await page.getByRole('button', { name: 'Load more keys' }).count(), 0, 'the last page');
    watch.check();
  });
});
