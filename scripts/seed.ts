/**
 * `npm run seed`: makes a new environment's database usable at once — a demo tenant, its owner and an
 * API key — and prints how to use them. It goes through the real endpoints (POST /v1/tenants and
 * POST /v1/tenants/{id}/api-keys, in-process, with the admin key), so validation, the transactions and
 * the audit trail are the production ones.
 * Refused in production (VERCEL_ENV=production). Applies pending migrations first. Reads .env.local
 * and .env like the other local scripts, so `vercel env pull --environment=preview` then
 * `npm run seed` seeds that preview's database.
 */
import { randomBytes } from 'node:crypto';
import { createApp } from '../lib/app.js';
import { ConfigError, loadConfig } from '../lib/config.js';
import { mountFunction } from '../lib/functions.js';
import { handleRequest } from '../lib/http/pipeline.js';
import { endScript } from './end-script.js';
import { loadEnvFiles } from './load-env.js';

loadEnvFiles();
if (process.env.VERCEL_ENV === 'production') {
  console.error('seed: refused — VERCEL_ENV is production. Seed a preview or a local database instead.');
  endScript(1);
}

const DEMO = { name: 'Demo', slug: 'demo', owner: { email: 'owner@demo.example', name: 'Demo Owner' } };
const DEMO_KEY = { name: 'Demo key', scopes: ['contracts', 'invoices', 'settings'], expires_in_days: 30 };

try {
  // The admin key only authorises this in-process call; any key works if none is configured.
  const config = loadConfig({ ADMIN_KEY: `seed_${randomBytes(24).toString('base64url')}`, ...process.env });
  const adminKey = config.adminKeys[0] as string;
  const app = await createApp({ ...config, logLevel: 'warn' }, { migrate: true });
  const post = (path: string, body: unknown) =>
    handleRequest(
      app,
      mountFunction('api/v1/core.js').router,
      new Request(new URL(path, config.appUrl), {
        method: 'POST',
        headers: {
          'x-admin-key': adminKey,
          'content-type': 'application/json',
          'x-forwarded-for': '127.0.0.1',
        },
        body: JSON.stringify(body),
      }),
    );
  try {
    const response = await post('/v1/tenants', DEMO);
    const body = (await response.json()) as {
      tenant: { id: string; name: string; slug: string };
      owner: { email: string; temporary_password: string };
      detail?: string;
    };
    await app.settle();
    const where = `${config.environment} environment, ${config.database.kind} database`;
    if (response.status === 409) {
      console.log(`seed: the demo tenant (slug "${DEMO.slug}") exists already (${where}); nothing to do.`);
      console.log(
        `      Its owner is ${DEMO.owner.email}; POST ${config.appUrl}/v1/auth/forgot-password resets the password.`,
      );
    } else if (response.status !== 201) {
      throw new Error(`POST /v1/tenants answered ${response.status}: ${body.detail ?? ''}`);
    } else {
      const url = config.appUrl;
      const keyResponse = await post(`/v1/tenants/${body.tenant.id}/api-keys`, DEMO_KEY);
      const key = (await keyResponse.json()) as { key?: string; detail?: string };
      if (keyResponse.status !== 201 || !key.key) {
        throw new Error(`POST /v1/tenants/{id}/api-keys answered ${keyResponse.status}: ${key.detail ?? ''}`);
      }
      console.log(`seed: created the demo tenant (${where})`);
      console.log(`  tenant  ${body.tenant.name} (slug ${body.tenant.slug}), id ${body.tenant.id}`);
      console.log(`  owner   ${body.owner.email}, temporary password ${body.owner.temporary_password}`);
      console.log(`  api key ${key.key} (public tier, ${DEMO_KEY.scopes.join(', ')}; shown only now)`);
      console.log(
        `Call as the tenant's backend: curl -s ${url}/v1/tenants/${body.tenant.id} -H "x-api-key: ${key.key}"`,
      );
      console.log('Set the owner’s password (this logs in and prints tokens), then call as the owner:');
      console.log(
        `  curl -s ${url}/v1/auth/set-password -H 'content-type: application/json' -d '${JSON.stringify({
          email: body.owner.email,
          temporary_password: body.owner.temporary_password,
          new_password: 'choose a long passphrase',
        })}'`,
      );
      console.log(
        `  curl -s ${url}/v1/auth/me -H "authorization: Bearer <access_token from the answer above>"`,
      );
      console.log(
        `Admins manage it with the admin key: curl -s ${url}/v1/tenants/${body.tenant.id} -H "x-admin-key: $ADMIN_KEY"`,
      );
    }
  } finally {
    await app.close();
  }
  endScript(0);
} catch (error) {
  console.error(`seed: FAILED — ${error instanceof ConfigError ? error.message : String(error)}`);
  endScript(1);
}
