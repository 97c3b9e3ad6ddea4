/**
 * The client IP a key's allow-list sees comes from the connection, never from headers a client sends.
 * On Vercel the edge overwrites X-Forwarded-For / X-Real-IP; locally the dev server does the same from
 * the socket. So these attacks go through the real dev server process on a free port, as a client would.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createScratchDatabase, deleteRedisPrefix, TEST_ADMIN_KEY } from '../support/backends.js';
import { type DevServer, freePort, startDevServer } from '../support/dev-server.js';

// biome-ignore lint/suspicious/noExplicitAny: the test reads response bodies freely.
type Body = any;

interface Mode {
  readonly name: string;
  setup(): Promise<{ env: Record<string, string>; cleanup(): Promise<void> }>;
}

const modes: Mode[] = [
  {
    name: 'embedded',
    setup: async () => ({ env: { DATA_DIR: 'memory' }, cleanup: async () => {} }),
  },
];
const { DATABASE_URL, REDIS_URL } = process.env;
if (DATABASE_URL && REDIS_URL) {
  modes.push({
    name: 'postgres+redis',
    async setup() {
      const database = await createScratchDatabase(DATABASE_URL);
      const prefix = `heirtest_${randomBytes(6).toString('hex')}`;
      return {
        env: { DATABASE_URL: database.url, REDIS_URL, RATE_LIMIT_PREFIX: prefix },
        async cleanup() {
          await deleteRedisPrefix(REDIS_URL, prefix);
          await database.drop();
        },
      };
    },
  });
}

for (const mode of modes) {
  describe(`client IP through the dev server [${mode.name}]`, () => {
    let server: DevServer;
    let cleanup: () => Promise<void>;
    let tenantId: string;

    before(async () => {
      const setup = await mode.setup();
      cleanup = setup.cleanup;
      server = await startDevServer(
        {
          ...process.env,
          ...setup.env,
          ADMIN_KEY: TEST_ADMIN_KEY,
          LOG_LEVEL: 'silent',
        },
        await freePort(),
      );
      const res = await api(
        'POST',
        '/v1/tenants',
        {
          name: 'IP tests',
          owner: { email: `ip.${randomBytes(4).toString('hex')}@example.com`, name: 'Ip' },
        },
        { 'x-admin-key': TEST_ADMIN_KEY },
      );
      assert.equal(res.status, 201, JSON.stringify(res.body));
      tenantId = res.body.tenant.id;
    });
    after(async () => {
      await server?.stop();
      await cleanup?.();
    });

    async function api(
      method: string,
      path: string,
      json?: unknown,
      headers: Record<string, string> = {},
    ): Promise<{ status: number; body: Body }> {
      const res = await fetch(`${server.origin}${path}`, {
        method,
        headers: {
          ...(json === undefined ? {} : { 'content-type': 'application/json' }),
          ...headers,
        },
        ...(json === undefined ? {} : { body: JSON.stringify(json) }),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : null };
    }

    async function keyAllowing(ip_whitelist: string[]): Promise<string> {
      const res = await api(
        'POST',
        `/v1/tenants/${tenantId}/api-keys`,
        { name: 'ip', scopes: ['contracts'], ip_whitelist },
        { 'x-admin-key': TEST_ADMIN_KEY },
      );
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return res.body.key;
    }

    const spoofs: Record<string, string>[] = [
      { 'x-forwarded-for': '203.0.113.7' },
      { 'x-real-ip': '203.0.113.7' },
      { forwarded: 'for=203.0.113.7' },
      { 'x-forwarded-for': '203.0.113.7', 'x-real-ip': '203.0.113.7', forwarded: 'for="203.0.113.7"' },
      { 'x-forwarded-for': '::ffff:203.0.113.7, 127.0.0.1' },
      { 'x-vercel-forwarded-for': '203.0.113.7' },
    ];

    it('spoofed X-Forwarded-For, X-Real-IP and Forwarded never widen an allow-list', async () => {
      const key = await keyAllowing(['203.0.113.7']);
      for (const headers of spoofs) {
        const res = await api('GET', `/v1/tenants/${tenantId}`, undefined, { 'x-api-key': key, ...headers });
        assert.equal(res.status, 403, JSON.stringify(headers));
        assert.equal(res.body.code, 'ip_not_allowed');
      }
    });

    it('the socket address decides, IPv4-mapped or not, whatever the headers say', async () => {
      // The server listens on both stacks, so this IPv4 client arrives as ::ffff:127.0.0.1.
      const key = await keyAllowing(['127.0.0.1']);
      for (const headers of [{}, ...spoofs]) {
        const res = await api('GET', `/v1/tenants/${tenantId}`, undefined, { 'x-api-key': key, ...headers });
        assert.equal(res.status, 200, `${JSON.stringify(headers)}: ${JSON.stringify(res.body)}`);
      }
      const mapped = await keyAllowing(['::ffff:127.0.0.0/104']);
      const res = await api('GET', `/v1/tenants/${tenantId}`, undefined, { 'x-api-key': mapped });
      assert.equal(res.status, 200);
    });
  });
}
