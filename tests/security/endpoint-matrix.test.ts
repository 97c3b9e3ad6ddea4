/**
 * DESIGN.md §9's shared security suite, derived from `allEndpoints()`: every endpoint whose `auth` is not
 * 'none' gets every row below that its declaration makes applicable, so a new protected endpoint is covered
 * the moment it is declared, and a new public one must be added to PUBLIC_ENDPOINTS on purpose.
 *
 * API-key rows: a key missing a declared scope (403 insufficient_scope), a key used from an IP off its
 * allow-list (403 ip_not_allowed), revoked (401 key_revoked), expired (401 key_expired), its old secret
 * rotated past the grace period (401 invalid_api_key), a suspended tenant's key (403 tenant_suspended),
 * another tenant's key on this tenant's paths (404), and a valid key on an endpoint that admits none (403).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { authorize } from '../../lib/auth/authorize.js';
import type { AuthSpec, Caller } from '../../lib/auth/caller.js';
import { allEndpoints } from '../../lib/endpoints.js';
import { ForbiddenError } from '../../lib/errors.js';
import type { Endpoint } from '../../lib/http/endpoint.js';
import { SCOPES, tierRules } from '../../lib/vocabulary.js';
import { asAdmin, type CallOptions, type CallResult } from '../support/client.js';
import { testClock } from '../support/clock.js';
import { addMember, ownerSession } from '../support/fixtures.js';
import { forEachBackend } from '../support/harness.js';
import { adminKey } from '../support/keys.js';
import {
  expectProblem,
  newLogin,
  type Person,
  person,
  secretLike,
  send,
  withoutRequestId,
} from '../support/security.js';

type Protected = Exclude<AuthSpec, 'none'>;

/** Endpoints that answer without a credential. Adding one here is a decision, not an accident. */
const PUBLIC_ENDPOINTS = [
  'GET /api/health',
  'GET /api/openapi.json',
  'GET /.well-known/jwks.json',
  'POST /v1/auth',
  'POST /v1/auth/team-member',
  'POST /v1/auth/refresh',
  'POST /v1/auth/forgot-password',
  'GET /v1/auth/validate-reset-token/{token}',
  'POST /v1/auth/reset-password',
  'POST /v1/auth/set-password',
  'GET /v1/ping',
].sort();

const name = (endpoint: Endpoint) => `${endpoint.method} ${endpoint.path}`;
const protectedEndpoints = allEndpoints().filter(
  (endpoint): endpoint is Endpoint & { auth: Protected } => endpoint.auth !== 'none',
);

const clock = testClock();
const SIXTEEN_MINUTES = 16 * 60_000;

/** Auth codes that must not answer a request made with the credential an endpoint declares. */
const AUTH_REFUSALS = new Set([
  'missing_credentials',
  'invalid_token',
  'token_expired',
  'invalid_admin_key',
  'invalid_api_key',
  'forbidden',
  'tenant_suspended',
  'ambiguous_credentials',
  'credentials_in_url',
]);

describe('the endpoint registry', () => {
  it('declares exactly the expected public endpoints; every other one is protected', () => {
    const open = allEndpoints()
      .filter((endpoint) => endpoint.auth === 'none')
      .map(name)
      .sort();
    assert.deepEqual(open, PUBLIC_ENDPOINTS);
    assert.ok(protectedEndpoints.length >= 10, 'the matrix below has endpoints to run on');
  });
});

forEachBackend(
  'security matrix',
  (ctx) => {
    // Read-only fixtures: tenant A (owner, member), tenant B (another tenant's owner), tenant S (an owner
    // whose tenant rows suspend and reactivate). Tests renew tokens through `token()`; none changes them.
    let a: { tenantId: string; owner: Person; member: Person };
    let b: { tenantId: string; owner: Person };
    let s: { tenantId: string; owner: Person };
    /** Keys of tenant A (all partner scopes unless named), B's full key, and S's key. */
    let keys: {
      full: string;
      fullId: string;
      wrongIp: string;
      revoked: string;
      expired: string;
      pastGrace: string;
      otherTenant: string;
      suspended: string;
    };
    const partnerScopes = [...tierRules.partner.scopes];

    before(async () => {
      const tenantA = await ownerSession(ctx.app);
      const member = await addMember(ctx.app, tenantA.tenantId, tenantA.session.auth, 'member');
      const tenantB = await ownerSession(ctx.app);
      const tenantS = await ownerSession(ctx.app);
      const owner = (t: typeof tenantA) =>
        person(
          ctx.app,
          { id: t.owner.id, email: t.owner.email, tenantId: t.tenantId },
          t.session.refreshToken,
        );
      a = {
        tenantId: tenantA.tenantId,
        owner: owner(tenantA),
        member: person(
          ctx.app,
          { id: member.id, email: member.email, tenantId: tenantA.tenantId },
          member.session.refreshToken,
        ),
      };
      b = { tenantId: tenantB.tenantId, owner: owner(tenantB) };
      s = { tenantId: tenantS.tenantId, owner: owner(tenantS) };

      const issue = async (tenantId: string, body: Record<string, unknown> = {}) =>
        adminKey(ctx.app, tenantId, { tier: 'partner', scopes: partnerScopes, ...body });
      const full = await issue(a.tenantId);
      const revoked = await issue(a.tenantId);
      const revoke = await send(ctx.app, 'DELETE', `/v1/api-keys/${revoked.id}`, { headers: asAdmin });
      assert.equal(revoke.status, 200, revoke.text);
      // Expiry and the end of a grace period, moved into the past in the database (the clock-driven
      // versions are in tests/security/api-keys.test.ts).
      const expired = await issue(a.tenantId);
      await ctx.app.db
        .updateTable('api_keys')
        .set({ expires_at: new Date(clock.now().getTime() - 1000) })
        .where('id', '=', expired.id)
        .execute();
      const rotated = await issue(a.tenantId);
      const rotate = await send(ctx.app, 'POST', `/v1/api-keys/${rotated.id}/rotate`, { headers: asAdmin });
      assert.equal(rotate.status, 200, rotate.text);
      await ctx.app.db
        .updateTable('api_keys')
        .set({ previous_expires_at: new Date(clock.now().getTime() - 1000) })
        .where('id', '=', rotated.id)
        .execute();
      keys = {
        full: full.key,
        fullId: full.id,
        // send() picks client IPs in 198.18.0.0/15: never this one.
        wrongIp: (await issue(a.tenantId, { ip_whitelist: ['192.0.2.1'] })).key,
        revoked: revoked.key,
        expired: expired.key,
        pastGrace: rotated.key,
        otherTenant: (await issue(b.tenantId)).key,
        suspended: (await issue(s.tenantId)).key,
      };
      // Tenant A's resources, named by the paths that take a resource id (/v1/<family>/{id}).
      const created = async (path: string, json: unknown) => {
        const res = await send(ctx.app, 'POST', path, { headers: key(keys.full), json });
        assert.ok(res.status < 300, res.text);
        return res.body;
      };
      const invoice = { number: 'INV-1', issue_date: '2026-11-01', currency: 'NGN' };
      resourceIds.invoices = (
        await created('/v1/invoices', {
          ...invoice,
          lines: [{ description: 'x', quantity: 1, unit_price: 1 }],
        })
      ).id;
      const contract = await created('/v1/contracts', {
        title: 'T',
        template: 't',
        parties: [{ name: 'P' }],
      });
      resourceIds.contracts = contract.id;
      resourceIds.vaults = contract.vault_id;
      resourceIds.webhooks = (
        await created('/v1/webhooks', { url: 'https://93.184.216.34/h', events: ['*'] })
      ).id;
    });
    const resourceIds: Record<string, string> = {};

    /** Real ids of tenant A for every named path parameter, so a missing check would act on them. */
    const realIds = (endpoint: Endpoint) => ({
      tenantId: a.tenantId,
      memberId: a.member.id,
      id: resourceIds[endpoint.path.split('/')[2] ?? ''] ?? keys.fullId,
      keyId: keys.fullId,
      category: 'currencies',
    });
    const key = (secret: string) => ({ 'x-api-key': secret });

    /** The endpoint's path with `{tenantId}` and any named ids filled; other parameters get random UUIDs. */
    function pathOf(endpoint: Endpoint, ids: Record<string, string>): string {
      return endpoint.path.replace(/\{(\w+)\}/g, (_, param: string) => ids[param] ?? randomUUID());
    }

    /** Calls the endpoint (an empty JSON body where it takes one: auth comes before validation). */
    function hit(
      endpoint: Endpoint,
      headers: Record<string, string>,
      ids: Record<string, string> = {},
      query = '',
    ): Promise<CallResult> {
      const options: CallOptions = {
        headers,
        ...(['POST', 'PUT', 'PATCH'].includes(endpoint.method) ? { json: {} } : {}),
      };
      return send(ctx.app, endpoint.method, `${pathOf(endpoint, ids)}${query}`, options);
    }

    const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
    const hasTenant = (endpoint: Endpoint) => endpoint.path.includes('{tenantId}');

    for (const endpoint of protectedEndpoints) {
      const auth = endpoint.auth;
      describe(name(endpoint), () => {
        it('the credential it declares gets through authentication and authorisation', async () => {
          // The control for every refusal below: the same request, with the right credential, passes.
          const headers = auth.admin
            ? asAdmin
            : auth.person
              ? bearer((await newLogin(ctx.app, a.owner.email)).accessToken)
              : key(keys.full);
          const res = await hit(endpoint, headers, { tenantId: a.tenantId });
          assert.ok(![401, 403].includes(res.status), res.text);
          assert.ok(!AUTH_REFUSALS.has(res.body?.code), res.text);
        });

        it('no credential → 401 missing_credentials with WWW-Authenticate', async () => {
          const res = await hit(endpoint, {}, { tenantId: a.tenantId });
          expectProblem(res, 401, 'missing_credentials');
          assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer realm=/);
        });

        it('a wrong admin key → 401 invalid_admin_key with WWW-Authenticate, never echoed', async () => {
          for (const key of [secretLike('not-the-admin-key'), `${asAdmin['x-admin-key']}x`]) {
            const res = await hit(endpoint, { 'x-admin-key': key }, { tenantId: a.tenantId });
            expectProblem(res, 401, 'invalid_admin_key', [key]);
            assert.match(res.headers.get('www-authenticate') ?? '', /AdminKey/);
          }
        });

        it('a garbage or non-Bearer authorization → 401 invalid_token', async () => {
          const garbage = secretLike('garbage');
          const cases: [Record<string, string>, string][] = [
            [bearer(garbage), garbage],
            [bearer(`eyJhbGciOiJFZERTQSJ9.${garbage}.${garbage}`), garbage],
            [{ authorization: `Basic ${Buffer.from(`admin:${garbage}`).toString('base64')}` }, garbage],
          ];
          for (const [headers, secret] of cases) {
            const res = await hit(endpoint, headers, { tenantId: a.tenantId });
            expectProblem(res, 401, 'invalid_token', [secret, headers.authorization ?? '']);
          }
        });

        it('a malformed API key (x-api-key or Bearer heir_…) → 401 invalid_api_key', async () => {
          const key = `heir_pk_${'x'.repeat(36)}`;
          for (const headers of [{ 'x-api-key': 'heir_pk_xxx' }, { 'x-api-key': key }, bearer(key)]) {
            const res = await hit(endpoint, headers, { tenantId: a.tenantId });
            expectProblem(res, 401, 'invalid_api_key', [key]);
          }
        });

        it('a credential in the query string → 400 credentials_in_url, even beside a valid header', async () => {
          const headers = auth.admin ? asAdmin : auth.person ? await a.owner.auth() : key(keys.full);
          const value = secretLike('in-url');
          const params = [
            'api_key',
            'apikey',
            'x-api-key',
            'X-API-KEY',
            'key',
            'token',
            'access_token',
            'Access_Token',
            'refresh_token',
            'jwt',
            'admin_key',
            'x-admin-key',
            'access-token',
            'admin-key',
            'x_admin_key',
          ];
          for (const param of params) {
            const res = await hit(endpoint, headers, { tenantId: a.tenantId }, `?${param}=${value}`);
            expectProblem(res, 400, 'credentials_in_url', [value]);
          }
          // A key under an innocent name is recognised by its shape.
          const keyShaped = `heir_pk_${secretLike('k').replace(/[^A-Za-z0-9]/g, '')}`;
          const res = await hit(endpoint, headers, { tenantId: a.tenantId }, `?q=${keyShaped}`);
          expectProblem(res, 400, 'credentials_in_url', [keyShaped]);
          // So is a JWT.
          const jwt = await a.owner.token();
          const jwtRes = await hit(endpoint, headers, { tenantId: a.tenantId }, `?q=${jwt}`);
          expectProblem(jwtRes, 400, 'credentials_in_url', [jwt]);
        });

        it('two credentials → 400 ambiguous_credentials', async () => {
          const token = await a.owner.token();
          const key = `heir_pk_${'y'.repeat(36)}`;
          const pairs = [
            { ...asAdmin, ...bearer(token) },
            { 'x-api-key': key, ...bearer(token) },
            { ...asAdmin, 'x-api-key': key },
          ];
          for (const headers of pairs) {
            const res = await hit(endpoint, headers, { tenantId: a.tenantId });
            expectProblem(res, 400, 'ambiguous_credentials', [token, key, asAdmin['x-admin-key']]);
          }
        });

        if (!auth.admin) {
          it('the admin key (not declared) → 403 forbidden', async () => {
            const res = await hit(endpoint, asAdmin, realIds(endpoint));
            expectProblem(res, 403, 'forbidden', [asAdmin['x-admin-key']]);
          });
        }

        if (!auth.person) {
          it("a person's valid token (not declared) → 403 forbidden", async () => {
            const token = await a.owner.token();
            const res = await hit(endpoint, bearer(token), realIds(endpoint));
            expectProblem(res, 403, 'forbidden', [token]);
          });
        }

        if (hasTenant(endpoint)) {
          it("a person of another tenant → 404 not_found, the same answer as for a tenant that doesn't exist", async () => {
            // Real ids of tenant A where the path names them, so that a missing isolation check would act.
            const ids = { tenantId: a.tenantId, memberId: a.member.id };
            const token = await b.owner.token();
            const theirs = await hit(endpoint, bearer(token), ids);
            expectProblem(theirs, 404, 'not_found', [token]);
            const nobody = await hit(endpoint, bearer(token), { ...ids, tenantId: randomUUID() });
            expectProblem(nobody, 404, 'not_found', [token]);
            assert.deepEqual(withoutRequestId(theirs.body), withoutRequestId(nobody.body));
          });
        }

        const roles = auth.person?.roles;
        if (roles && !roles.includes('member')) {
          it(`a member (roles: ${roles.join(', ')}) → 403 forbidden`, async () => {
            const token = await a.member.token();
            // Real ids of the member's own tenant: without the role check the handler would act (or 422).
            const res = await hit(endpoint, bearer(token), realIds(endpoint));
            expectProblem(res, 403, 'forbidden', [token]);
          });
        }

        it("a logged-out person's token → 401 invalid_token", async () => {
          const login = await newLogin(ctx.app, a.owner.email);
          const out = await send(ctx.app, 'POST', '/v1/auth/logout', { headers: bearer(login.accessToken) });
          assert.equal(out.status, 204, out.text);
          const res = await hit(endpoint, bearer(login.accessToken), { tenantId: a.tenantId });
          expectProblem(res, 401, 'invalid_token', [login.accessToken]);
        });

        it('a token 16 minutes old → 401 token_expired', async () => {
          const token = await a.owner.token();
          clock.advance(SIXTEEN_MINUTES);
          const res = await hit(endpoint, bearer(token), { tenantId: a.tenantId });
          expectProblem(res, 401, 'token_expired', [token]);
          assert.match(res.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
        });

        it("a suspended tenant's person → 403 tenant_suspended", async () => {
          const token = await s.owner.token();
          const suspend = await send(ctx.app, 'PATCH', `/v1/tenants/${s.tenantId}`, {
            headers: asAdmin,
            json: { status: 'suspended' },
          });
          assert.equal(suspend.status, 200, suspend.text);
          try {
            const res = await hit(endpoint, bearer(token), { tenantId: s.tenantId });
            expectProblem(res, 403, 'tenant_suspended', [token]);
          } finally {
            const reactivate = await send(ctx.app, 'PATCH', `/v1/tenants/${s.tenantId}`, {
              headers: asAdmin,
              json: { status: 'active' },
            });
            assert.equal(reactivate.status, 200, reactivate.text);
          }
        });

        if (typeof endpoint.tenant === 'object') {
          it("another tenant's resource id in the path → 404, the same answer as for an id that doesn't exist", async () => {
            const token = await b.owner.token();
            const theirs = await hit(endpoint, bearer(token), realIds(endpoint));
            expectProblem(theirs, 404, 'not_found', [token]);
            const nobody = await hit(endpoint, bearer(token), {
              ...realIds(endpoint),
              id: randomUUID(),
              keyId: randomUUID(),
            });
            assert.deepEqual(withoutRequestId(theirs.body), withoutRequestId(nobody.body));
          });
        }

        if (auth.apiKey) {
          const required = auth.apiKey.scopes;
          it(`a key with the declared scopes (${required.join(', ') || 'any'}) gets through`, async () => {
            // Random ids besides the tenant's: this request is allowed to act (DELETE would remove a member).
            const res = await hit(endpoint, key(keys.full), { tenantId: a.tenantId });
            assert.ok(![401, 403].includes(res.status), res.text);
          });
          for (const scope of required) {
            it(`a key without the ${scope} scope → 403 insufficient_scope`, async () => {
              const without = await adminKey(ctx.app, a.tenantId, {
                tier: 'partner',
                scopes: partnerScopes.filter((other) => other !== scope),
              });
              const res = await hit(endpoint, key(without.key), realIds(endpoint));
              expectProblem(res, 403, 'insufficient_scope', [without.key]);
            });
          }
        } else if (!auth.admin) {
          it('a valid key with every scope (keys not declared) → 403 forbidden', async () => {
            const res = await hit(endpoint, key(keys.full), realIds(endpoint));
            expectProblem(res, 403, 'forbidden', [keys.full]);
          });
        } else {
          it('a valid key without the admin scope (only admins declared) → 403 forbidden', async () => {
            const res = await hit(endpoint, key(keys.full), realIds(endpoint));
            expectProblem(res, 403, 'forbidden', [keys.full]);
          });
        }

        it('a key used from an IP off its allow-list → 403 ip_not_allowed', async () => {
          const res = await hit(endpoint, key(keys.wrongIp), realIds(endpoint));
          expectProblem(res, 403, 'ip_not_allowed', [keys.wrongIp]);
        });

        it('a revoked key → 401 key_revoked; an expired one → 401 key_expired', async () => {
          expectProblem(await hit(endpoint, key(keys.revoked), realIds(endpoint)), 401, 'key_revoked', [
            keys.revoked,
          ]);
          expectProblem(await hit(endpoint, key(keys.expired), realIds(endpoint)), 401, 'key_expired', [
            keys.expired,
          ]);
        });

        it("a key's old secret, rotated past its grace period → 401 invalid_api_key", async () => {
          const res = await hit(endpoint, key(keys.pastGrace), realIds(endpoint));
          expectProblem(res, 401, 'invalid_api_key', [keys.pastGrace]);
        });

        it("a suspended tenant's key → 403 tenant_suspended", async () => {
          const suspend = await send(ctx.app, 'PATCH', `/v1/tenants/${s.tenantId}`, {
            headers: asAdmin,
            json: { status: 'suspended' },
          });
          assert.equal(suspend.status, 200, suspend.text);
          try {
            const res = await hit(endpoint, key(keys.suspended), { tenantId: s.tenantId });
            expectProblem(res, 403, 'tenant_suspended', [keys.suspended]);
          } finally {
            await send(ctx.app, 'PATCH', `/v1/tenants/${s.tenantId}`, {
              headers: asAdmin,
              json: { status: 'active' },
            });
          }
        });

        if (hasTenant(endpoint)) {
          it("another tenant's key on this tenant's paths → 404 not_found", async () => {
            const res = await hit(endpoint, key(keys.otherTenant), realIds(endpoint));
            expectProblem(res, 404, 'not_found', [keys.otherTenant]);
          });
        }
      });
    }
  },
  { options: { now: clock.now } },
);

/**
 * The scope and kind policy that API keys will meet, checked through `authorize` against every declaration
 * (no HTTP path issues API keys yet). These callers are built by hand; the policy code is the real one.
 */
describe('API-key policy of every declaration (authorize)', () => {
  const key = (tier: 'public' | 'partner' | 'internal', scopes: readonly string[]): Caller =>
    ({ kind: 'api_key', keyId: 'k', tenantId: randomUUID(), tier, scopes }) as unknown as Caller;
  const refusal = (fn: () => void): string | null => {
    try {
      fn();
      return null;
    } catch (error) {
      assert.ok(error instanceof ForbiddenError, String(error));
      return error.code;
    }
  };

  for (const endpoint of protectedEndpoints) {
    const auth = endpoint.auth;
    it(`${name(endpoint)}: keys without the declared scopes, or not declared at all, are refused`, () => {
      const required = auth.apiKey?.scopes ?? [];
      const allScopes = SCOPES.filter((scope) => scope !== 'admin');
      if (auth.apiKey) {
        assert.equal(
          refusal(() => authorize(auth, key('public', [...required]))),
          null,
        );
        for (const scope of required) {
          const without = allScopes.filter((other) => other !== scope);
          assert.equal(
            refusal(() => authorize(auth, key('partner', without))),
            'insufficient_scope',
          );
        }
      } else if (!auth.admin) {
        assert.equal(
          refusal(() => authorize(auth, key('partner', allScopes))),
          'forbidden',
        );
      }
      if (auth.admin) {
        assert.equal(
          refusal(() => authorize(auth, key('internal', ['admin']))),
          null,
        );
        // Only the internal tier's `admin` scope stands for the admin key.
        if (!auth.apiKey) {
          assert.equal(
            refusal(() => authorize(auth, key('partner', ['admin']))),
            'forbidden',
          );
          assert.equal(
            refusal(() => authorize(auth, key('internal', allScopes))),
            'forbidden',
          );
        }
      }
    });
  }
});
