/**
 * The developer portal in a real browser: Debian's Chromium (/usr/bin/chromium, or CHROMIUM_PATH)
 * driven by playwright-core (which never downloads a browser) against `scripts/dev.ts` started as a
 * child process on a free port, embedded (DATA_DIR=memory), exactly as `npm run dev` serves it —
 * the same vercel.json routing and headers, the portal built by the dev server at start.
 *
 * Every page is watched: a console error (a CSP violation is one), an uncaught exception, a failed
 * request (other than one the browser aborted on navigating away) or any 5xx fails the test, and so does any 4xx response the test did not announce with
 * `expectStatus` (Chromium logs each one as a console error too; only those are forgiven).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { type Browser, chromium, type Page } from 'playwright-core';
import { TEST_ADMIN_KEY } from './backends.js';
import { embeddedEnv, freePort, startDevServer } from './dev-server.js';

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/** Why the browser suites cannot run here, or null when they can. */
export function browserMissing(): string | null {
  return existsSync(CHROMIUM)
    ? null
    : `no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`;
}

export function launchBrowser(): Promise<Browser> {
  // The workplace's flags (DESIGN.md): root needs --no-sandbox; no GPU; no background fetches.
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

export interface PortalServer {
  readonly origin: string;
  /** A call to the API as a client would make it (the admin key is TEST_ADMIN_KEY). */
  api(
    method: string,
    path: string,
    options?: { json?: unknown; headers?: Record<string, string> },
  ): Promise<ApiAnswer>;
  stop(): Promise<void>;
}

export interface ApiAnswer {
  readonly status: number;
  // biome-ignore lint/suspicious/noExplicitAny: tests read response bodies freely.
  readonly body: any;
}

/** Starts `npm run dev`'s server, embedded, with `env` added (SMTP_URL for the mail tests). */
export async function startPortalServer(env: Record<string, string> = {}): Promise<PortalServer> {
  const port = await freePort();
  const server = await startDevServer(
    embeddedEnv({ APP_URL: `http://127.0.0.1:${port}`, ADMIN_KEY: TEST_ADMIN_KEY, ...env }),
    port,
  );
  const { origin } = server;
  return {
    origin,
    async api(method, path, options = {}) {
      const headers: Record<string, string> = { ...options.headers };
      if (options.json !== undefined) headers['content-type'] = 'application/json';
      const response = await fetch(`${origin}${path}`, {
        method,
        headers,
        ...(options.json !== undefined ? { body: JSON.stringify(options.json) } : {}),
      });
      const text = await response.text();
      return { status: response.status, body: text ? JSON.parse(text) : null };
    },
    stop: server.stop,
  };
}

/** A tenant made through the admin API, with its owner signed up (temporary password replaced). */
export interface TestTenant {
  readonly id: string;
  readonly name: string;
  readonly owner: { readonly email: string; readonly password: string };
}

let counter = 0;
export function uniqueEmail(label: string): string {
  counter += 1;
  return `${label}.${process.pid}.${Date.now().toString(36)}.${counter}@example.com`;
}

export async function createTenant(
  server: PortalServer,
  options: { name: string; maxTier?: string; setPassword?: boolean },
): Promise<TestTenant & { readonly temporaryPassword: string }> {
  const email = uniqueEmail('owner');
  const created = await server.api('POST', '/v1/tenants', {
    headers: { 'x-admin-key': TEST_ADMIN_KEY },
    json: { name: options.name, max_tier: options.maxTier ?? 'public', owner: { email, name: 'Olu Owner' } },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const temporaryPassword: string = created.body.owner.temporary_password;
  const password = 'Portal-owner-pass-1';
  if (options.setPassword !== false) {
    const set = await server.api('POST', '/v1/auth/set-password', {
      json: { email, temporary_password: temporaryPassword, new_password: password },
    });
    assert.equal(set.status, 200, JSON.stringify(set.body));
  }
  return { id: created.body.tenant.id, name: options.name, owner: { email, password }, temporaryPassword };
}

/** Logs a person in through the API (for setting things up); returns the access token. */
export async function apiLogin(server: PortalServer, email: string, password: string): Promise<string> {
  const login = await server.api('POST', '/v1/auth', { json: { email, password } });
  assert.equal(login.status, 200, JSON.stringify(login.body));
  return login.body.access_token;
}

export interface PageGuard {
  /** Announces a response status the next step provokes on purpose (`path` is a substring of its URL). */
  expectStatus(status: number, path: string): void;
  /** Every request URL the page made (to check that no secret is ever in one). */
  readonly urls: string[];
  /** Fails with everything that went wrong on the page since the last check. */
  check(): void;
}

const NETWORK_LOG = /^Failed to load resource: the server responded with a status of (4\d\d)/;

export function guard(page: Page): PageGuard {
  const problems: string[] = [];
  const expected: { status: number; path: string }[] = [];
  const urls: string[] = [];
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    if (NETWORK_LOG.test(message.text())) return; // the response itself is judged below
    problems.push(`console error: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`uncaught: ${error.message}`));
  page.on('request', (request) => urls.push(request.url()));
  page.on('requestfailed', (request) => {
    // ERR_ABORTED is the browser cancelling a request itself, as it does to whatever is still in
    // flight when the test navigates away (the keys list, its /usage calls); a server that fails a
    // request shows as ERR_EMPTY_RESPONSE, ERR_CONNECTION_RESET or a 5xx, which still count.
    if (request.failure()?.errorText === 'net::ERR_ABORTED') return;
    problems.push(`request failed: ${request.method()} ${request.url()} (${request.failure()?.errorText})`);
  });
  page.on('response', (response) => {
    const status = response.status();
    if (status >= 500) problems.push(`${status} from ${response.request().method()} ${response.url()}`);
    else if (status >= 400) {
      const at = expected.findIndex((e) => e.status === status && response.url().includes(e.path));
      if (at >= 0) expected.splice(at, 1);
      else problems.push(`unexpected ${status} from ${response.request().method()} ${response.url()}`);
    }
  });
  return {
    urls,
    expectStatus(status, path) {
      expected.push({ status, path });
    },
    check() {
      const found = [...problems];
      problems.length = 0;
      assert.deepEqual(found, [], found.join('\n'));
    },
  };
}

/** Runs axe-core in the page (injected through the debugging protocol, which the CSP does not govern). */
export async function seriousAxeViolations(page: Page): Promise<string[]> {
  const require = createRequire(import.meta.url);
  const source = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
  await page.evaluate(source);
  const violations = await page.evaluate(async () => {
    // biome-ignore lint/suspicious/noExplicitAny: axe is a global the injected script defines.
    const axe = (globalThis as any).axe;
    const result = await axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map(
      (v: { id: string; impact: string; help: string; nodes: { target: string[] }[] }) => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        targets: v.nodes.map((n) => n.target.join(' ')),
      }),
    );
  });
  return violations
    .filter((v: { impact: string }) => v.impact === 'serious' || v.impact === 'critical')
    .map(
      (v: { id: string; impact: string; help: string; targets: string[] }) =>
        `${v.impact} ${v.id}: ${v.help} (${v.targets.join(', ')})`,
    );
}

/** True when the page is wider than its viewport (something would scroll sideways on a phone). */
export function overflowsHorizontally(page: Page): Promise<boolean> {
  return page.evaluate(() => document.documentElement.scrollWidth > document.documentElement.clientWidth);
}
