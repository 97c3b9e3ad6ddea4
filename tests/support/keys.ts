/** Builders for API-key tests: a tenant of a given max_tier with a logged-in owner, and keys issued to it. */
import assert from 'node:assert/strict';
import type { App } from '../../lib/app.js';
import type { Db } from '../../lib/db/database.js';
import type { RateLimiter } from '../../lib/ratelimit/limiter.js';
import { asAdmin, call } from './client.js';
import { activate, createTenant } from './fixtures.js';

export interface KeyTenant {
  readonly tenantId: string;
  readonly ownerId: string;
  readonly owner: Record<string, string>;
}

/** A tenant (max_tier as given) whose owner is logged in. */
export async function keyTenant(app: App, maxTier = 'partner'): Promise<KeyTenant> {
  const tenant = await createTenant(app, { max_tier: maxTier });
  const session = await activate(app, tenant.owner.email, tenant.owner.temporaryPassword);
  return { tenantId: tenant.tenantId, ownerId: tenant.owner.id, owner: session.auth };
}

export interface IssuedKey {
  readonly id: string;
  readonly key: string;
  // biome-ignore lint/suspicious/noExplicitAny: tests read the key object freely.
  readonly body: any;
}

/** Issues a key to a tenant with the admin key (any tier; no bcrypt involved). */
export async function adminKey(
  app: App,
  tenantId: string,
  body: Record<string, unknown> = {},
): Promise<IssuedKey> {
  const res = await call(app, 'POST', `/v1/tenants/${tenantId}/api-keys`, {
    headers: asAdmin,
    json: { name: 'Test key', scopes: ['contracts'], ...body },
  });
  assert.equal(res.status, 201, res.text);
  return { id: res.body.id, key: res.body.key, body: res.body };
}

export const withKey = (key: string) => ({ 'x-api-key': key });

/**
 * The app with every database query and every rate-limiter call counted (a Kysely plugin; a wrapping
 * limiter). Requests made through the returned app run the real code.
 */
export function counting(app: App): { app: App; queries(): number; limiterCalls(): number } {
  let queries = 0;
  let limiterCalls = 0;
  const db = app.db.withPlugin({
    transformQuery(args) {
      queries += 1;
      return args.node;
    },
    async transformResult(args) {
      return args.result;
    },
  }) as Db;
  const inner = app.limiter;
  const limiter: RateLimiter = {
    kind: inner.kind,
    limit: (...args) => {
      limiterCalls += 1;
      return inner.limit(...args);
    },
    peek: (...args) => {
      limiterCalls += 1;
      return inner.peek(...args);
    },
    reset: (...args) => {
      limiterCalls += 1;
      return inner.reset(...args);
    },
    ping: () => inner.ping(),
  };
  return { app: { ...app, db, limiter }, queries: () => queries, limiterCalls: () => limiterCalls };
}
