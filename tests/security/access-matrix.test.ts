/**
 * Which credential may call what: every operation of docs/API.md §4, called by each kind of caller,
 * with the status each must get. Read a row like API.md's tables; the columns are:
 *
 *   none      no credential
 *   pk        a public key of tenant A with every public scope
 *   pkNo      a public key of tenant A with every public scope but the one the operation needs
 *   partner   a partner key of tenant A with every partner scope
 *   inAdmin   an internal key of tenant A carrying only `admin` (stands for the admin key)
 *   otherKey  a partner key of tenant B with every partner scope, on tenant A's ids
 *   owner, admin, member   people of tenant A (JWT)
 *   otherJwt  the owner of tenant B, on tenant A's ids
 *   adminKey  the shared admin key
 *
 * Outcomes: `ok` (past authentication, isolation and authorisation: 2xx, or 422 for the deliberately
 * empty bodies), `401`, `403` (forbidden), `scope` (403 insufficient_scope), `404` (another tenant's
 * resource, the same answer as a missing one). Rows act on real resources of tenant A; destructive ones
 * get a fresh resource per call. The last tests check that this table, docs/API.md, the mounted
 * endpoints and the OpenAPI document list exactly the same operations.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { before, describe, it } from 'node:test';
import { allEndpoints } from '../../lib/endpoints.js';
import { type Scope, tierRules } from '../../lib/vocabulary.js';
import { asAdmin } from '../support/client.js';
import { addMember, ownerSession } from '../support/fixtures.js';
import { forEachBackend } from '../support/harness.js';
import { adminKey } from '../support/keys.js';
import { newLogin, type Person, person, send } from '../support/security.js';

const CALLERS = [
  'none',
  'pk',
  'pkNo',
  'partner',
  'inAdmin',
  'otherKey',
  'owner',
  'admin',
  'member',
  'otherJwt',
  'adminKey',
] as const;
type CallerName = (typeof CALLERS)[number];
type Outcome = 'ok' | '401' | '403' | 'scope' | '404';

//                                                              none     pk       pkNo     partner  inAdmin  otherKey owner    admin    member   otherJwt adminKey
// biome-ignore format: aligned like API.md's tables
const MATRIX: Record<string, string> = {
  // Authentication (persons)
  'GET /v1/auth/me':                                          '401      403      403      403      403      403      ok       ok       ok       ok       403',
  'POST /v1/auth/logout':                                     '401      403      403      403      403      403      ok       ok       ok       ok       403',
  // API keys
  'POST /v1/api-keys':                                        '401      403      403      403      ok       403      ok       ok       403      ok       ok',
  'GET /v1/api-keys':                                         '401      403      403      403      ok       403      ok       ok       ok       ok       ok',
  'GET /v1/api-keys/{id}':                                    '401      403      403      403      ok       404      ok       ok       ok       404      ok',
  'PUT /v1/api-keys/{id}':                                    '401      403      403      403      ok       404      ok       ok       403      404      ok',
  'PATCH /v1/api-keys/{id}':                                  '401      403      403      403      ok       404      ok       ok       403      404      ok',
  'DELETE /v1/api-keys/{id}':                                 '401      403      403      403      ok       404      ok       ok       403      404      ok',
  'POST /v1/api-keys/{id}/rotate':                            '401      403      403      403      ok       404      ok       ok       403      404      ok',
  'GET /v1/api-keys/{id}/usage':                              '401      403      403      403      ok       404      ok       ok       ok       404      ok',
  // Tenants and tenant keys
  'POST /v1/tenants':                                         '401      403      403      403      ok       403      403      403      403      403      ok',
  'GET /v1/tenants':                                          '401      403      403      403      ok       403      403      403      403      403      ok',
  'GET /v1/tenants/{tenantId}':                               '401      ok       ok       ok       ok       404      ok       ok       ok       404      ok',
  'PATCH /v1/tenants/{tenantId}':                             '401      403      403      403      ok       404      403      403      403      404      ok',
  'POST /v1/tenants/{tenantId}/api-keys':                     '401      403      403      403      ok       404      403      403      403      404      ok',
  'GET /v1/tenants/{tenantId}/api-keys':                      '401      403      403      403      ok       404      403      403      403      404      ok',
  'DELETE /v1/tenants/{tenantId}/api-keys/{keyId}':           '401      403      403      403      ok       404      403      403      403      404      ok',
  'GET /v1/tenants/{tenantId}/audit-events':                  '401      403      403      403      ok       404      ok       ok       403      404      ok',
  // Team members
  'GET /v1/tenants/{tenantId}/team-members':                  '401      ok       scope    ok       scope    404      ok       ok       ok       404      403',
  'POST /v1/tenants/{tenantId}/team-members':                 '401      ok       scope    ok       scope    404      ok       ok       403      404      403',
  'PATCH /v1/tenants/{tenantId}/team-members/{memberId}':     '401      ok       scope    ok       scope    404      ok       ok       403      404      403',
  'DELETE /v1/tenants/{tenantId}/team-members/{memberId}':    '401      ok       scope    ok       scope    404      ok       ok       403      404      403',
  // Tenant resources
  'POST /v1/invoices':                                        '401      ok       scope    ok       scope    ok       403      403      403      403      403',
  'GET /v1/invoices/{id}':                                    '401      ok       scope    ok       scope    404      403      403      403      404      403',
  'GET /v1/tenants/{tenantId}/settings/business':             '401      ok       scope    ok       scope    404      ok       ok       ok       404      403',
  'PUT /v1/tenants/{tenantId}/settings/business':             '401      ok       scope    ok       scope    404      ok       ok       403      404      403',
  'PUT /v1/tenants/{tenantId}/settings/firs-credentials':     '401      ok       scope    ok       scope    404      ok       ok       403      404      403',
  'GET /v1/tenants/{tenantId}/settings/firs-credentials':     '401      ok       scope    ok       scope    404      ok       ok       403      404      403',
  'POST /v1/auth/oauth/firs':                                 '401      ok       scope    ok       scope    ok       ok       ok       403      ok       403',
  'GET /v1/tenants/{tenantId}/event-routing':                 '401      403      403      403      ok       404      403      403      403      404      ok',
  'PUT /v1/tenants/{tenantId}/event-routing':                 '401      403      403      403      ok       404      403      403      403      404      ok',
  'POST /v1/tenants/{tenantId}/sandbox/runs':                 '401      403      403      403      ok       404      403      403      403      404      ok',
  'GET /v1/tenants/{tenantId}/sandbox/runs':                  '401      403      403      403      ok       404      403      403      403      404      ok',
  'GET /v1/firs/dictionary/{category}':                       '401      ok       ok       ok       ok       ok       ok       ok       ok       ok       ok',
  'PUT /v1/firs/dictionary/{category}':                       '401      403      403      403      ok       403      403      403      403      403      ok',
  'POST /v1/contracts':                                       '401      ok       scope    ok       scope    ok       403      403      403      403      403',
  'GET /v1/contracts':                                        '401      ok       scope    ok       scope    ok       403      403      403      403      403',
  'GET /v1/contracts/{id}':                                   '401      ok       scope    ok       scope    404      403      403      403      404      403',
  'GET /v1/vaults':                                           '401      ok       scope    ok       scope    ok       403      403      403      403      403',
  'GET /v1/vaults/{id}':                                      '401      ok       scope    ok       scope    404      403      403      403      404      403',
  // webhooks and embed are partner scopes: a public key cannot carry them (API.md §5 "HEIR resources").
  'POST /v1/webhooks':                                        '401      scope    scope    ok       scope    ok       403      403      403      403      403',
  'GET /v1/webhooks':                                         '401      scope    scope    ok       scope    ok       403      403      403      403      403',
  'DELETE /v1/webhooks/{id}':                                 '401      scope    scope    ok       scope    404      403      403      403      404      403',
  'POST /v1/embed/sessions':                                  '401      scope    scope    ok       scope    ok       403      403      403      403      403',
  // Service endpoints
  'POST /v1/keys/verify':                                     '401      403      403      403      ok       403      403      403      403      403      ok',
  'GET /v1/whoami':                                           '401      ok       ok       ok       ok       ok       ok       ok       ok       ok       ok',
};

/** Operations that answer without a credential (the rows above are every other one). */
const PUBLIC = [
  'GET /api/health',
  'GET /api/openapi.json',
  'GET /.well-known/jwks.json',
  'GET /v1/ping',
  'POST /v1/auth',
  'POST /v1/auth/team-member',
  'POST /v1/auth/refresh',
  'POST /v1/auth/forgot-password',
  'GET /v1/auth/validate-reset-token/{token}',
  'POST /v1/auth/reset-password',
  'POST /v1/auth/set-password',
];

function expectations(row: string): Record<CallerName, Outcome> {
  const cells = row.trim().split(/\s+/);
  assert.equal(cells.length, CALLERS.length, row);
  return Object.fromEntries(CALLERS.map((caller, i) => [caller, cells[i] as Outcome])) as Record<
    CallerName,
    Outcome
  >;
}

/** Every `METHOD /path` of docs/API.md §4's tables (`POST, GET /x; GET /x/{id}`, `PUT or PATCH /y`). */
function apiMdOperations(): string[] {
  const text = readFileSync(new URL('../../docs/API.md', import.meta.url), 'utf8');
  const section = text.slice(text.indexOf('## 4. Endpoints'), text.indexOf('## 5.'));
  const operations: string[] = [];
  for (const line of section.split('\n')) {
    const cell = line.match(/^\| ([A-Z][^|]*?) \|/)?.[1];
    if (!cell) continue;
    for (const part of cell.split(';')) {
      const match = part
        .trim()
        .match(/^((?:GET|POST|PUT|PATCH|DELETE)(?:(?:, | or )(?:GET|POST|PUT|PATCH|DELETE))*) (\S+)$/);
      if (!match?.[1] || !match[2]) continue;
      for (const method of match[1].split(/, | or /)) operations.push(`${method} ${match[2]}`);
    }
  }
  return operations.sort();
}

const declared = () =>
  allEndpoints()
    .map((endpoint) => `${endpoint.method} ${endpoint.path}`)
    .sort();

describe('the access matrix covers every operation', () => {
  it('docs/API.md, the mounted endpoints and this table list the same operations', () => {
    assert.deepEqual(apiMdOperations(), declared());
    assert.deepEqual([...Object.keys(MATRIX), ...PUBLIC].sort(), declared());
    for (const row of Object.values(MATRIX)) expectations(row);
  });
});

const publicScopes = tierRules.public.scopes;
const partnerScopes = tierRules.partner.scopes;

forEachBackend('access matrix', (ctx) => {
  let a: {
    tenantId: string;
    owner: Person;
    admin: Person;
    member: Person;
    ownerEmail: string;
    adminEmail: string;
    memberEmail: string;
  };
  let b: { tenantId: string; owner: Person; ownerEmail: string };
  const keys: Partial<Record<string, string>> = {};
  /** Real resources of tenant A (read-only rows use these). */
  const ids: Record<string, string> = {};

  before(async () => {
    const tenantA = await ownerSession(ctx.app);
    const tenantB = await ownerSession(ctx.app);
    await send(ctx.app, 'PATCH', `/v1/tenants/${tenantA.tenantId}`, {
      headers: asAdmin,
      json: { max_tier: 'partner' },
    });
    const admin = await addMember(ctx.app, tenantA.tenantId, tenantA.session.auth, 'admin');
    const member = await addMember(ctx.app, tenantA.tenantId, tenantA.session.auth, 'member');
    const asPerson = (who: { id: string; email: string }, tenantId: string, refresh: string) =>
      person(ctx.app, { ...who, tenantId }, refresh);
    a = {
      tenantId: tenantA.tenantId,
      owner: asPerson(tenantA.owner, tenantA.tenantId, tenantA.session.refreshToken),
      admin: asPerson(admin, tenantA.tenantId, admin.session.refreshToken),
      member: asPerson(member, tenantA.tenantId, member.session.refreshToken),
      ownerEmail: tenantA.owner.email,
      adminEmail: admin.email,
      memberEmail: member.email,
    };
    b = {
      tenantId: tenantB.tenantId,
      ownerEmail: tenantB.owner.email,
      owner: asPerson(tenantB.owner, tenantB.tenantId, tenantB.session.refreshToken),
    };

    const issue = async (tenantId: string, tier: string, scopes: readonly Scope[]) =>
      (await adminKey(ctx.app, tenantId, { tier, scopes: [...scopes] })).key;
    keys.pk = await issue(a.tenantId, 'public', publicScopes);
    for (const scope of publicScopes)
      keys[`pkNo:${scope}`] = await issue(
        a.tenantId,
        'public',
        publicScopes.filter((s) => s !== scope),
      );
    const partner = await adminKey(ctx.app, a.tenantId, { tier: 'partner', scopes: [...partnerScopes] });
    keys.partner = partner.key;
    keys.inAdmin = await issue(a.tenantId, 'internal', ['admin']);
    keys.otherKey = await issue(b.tenantId, 'partner', partnerScopes);

    const withPartner = { 'x-api-key': partner.key };
    const created = async (path: string, json: unknown) => {
      const res = await send(ctx.app, 'POST', path, { headers: withPartner, json });
      assert.ok(res.status < 300, res.text);
      return res.body;
    };
    ids.id = partner.id;
    ids.keyId = partner.id;
    ids.memberId = member.id;
    ids.invoice = (
      await created('/v1/invoices', {
        number: 'INV-1',
        issue_date: '2026-11-01',
        currency: 'NGN',
        lines: [{ description: 'x', quantity: 1, unit_price: 1 }],
      })
    ).id;
    const contract = await created('/v1/contracts', {
      title: 'T',
      template: 'supply-v1',
      parties: [{ name: 'P' }],
    });
    ids.contract = contract.id;
    ids.vault = contract.vault_id;
    ids.webhook = (await created('/v1/webhooks', { url: 'https://93.184.216.34/h', events: ['*'] })).id;
  });

  /** A fresh resource for destructive rows, so every caller meets one that exists. */
  const fresh: Record<string, () => Promise<Record<string, string>>> = {
    'DELETE /v1/api-keys/{id}': async () => ({ id: (await adminKey(ctx.app, a.tenantId)).id }),
    'POST /v1/api-keys/{id}/rotate': async () => ({ id: (await adminKey(ctx.app, a.tenantId)).id }),
    'DELETE /v1/tenants/{tenantId}/api-keys/{keyId}': async () => ({
      keyId: (await adminKey(ctx.app, a.tenantId)).id,
    }),
    'DELETE /v1/tenants/{tenantId}/team-members/{memberId}': async () => {
      const res = await send(ctx.app, 'POST', `/v1/tenants/${a.tenantId}/team-members`, {
        headers: await a.owner.auth(),
        json: { email: `m.${Math.random().toString(36).slice(2)}@example.com`, name: 'M', role: 'member' },
      });
      assert.equal(res.status, 201, res.text);
      return { memberId: res.body.member.id };
    },
    'DELETE /v1/webhooks/{id}': async () => {
      const res = await send(ctx.app, 'POST', '/v1/webhooks', {
        headers: { 'x-api-key': keys.partner ?? '' },
        json: { url: 'https://93.184.216.34/h', events: ['*'] },
      });
      assert.equal(res.status, 201, res.text);
      return { id: res.body.id };
    },
  };

  /** The path's parameters: tenant A's real ids (the resource the path names). */
  function paramsFor(path: string): Record<string, string> {
    const base = {
      tenantId: a.tenantId,
      memberId: ids.memberId ?? '',
      keyId: ids.keyId ?? '',
      category: 'currencies',
    };
    if (path.startsWith('/v1/invoices/')) return { ...base, id: ids.invoice ?? '' };
    if (path.startsWith('/v1/contracts/')) return { ...base, id: ids.contract ?? '' };
    if (path.startsWith('/v1/vaults/')) return { ...base, id: ids.vault ?? '' };
    if (path.startsWith('/v1/webhooks/')) return { ...base, id: ids.webhook ?? '' };
    return { ...base, id: ids.id ?? '' };
  }

  async function headersOf(caller: CallerName, operation: string, scope: Scope | undefined) {
    const personal = async (p: Person, email: string) =>
      operation === 'POST /v1/auth/logout'
        ? { authorization: `Bearer ${(await newLogin(ctx.app, email)).accessToken}` }
        : p.auth();
    switch (caller) {
      case 'none':
        return {};
      case 'pk':
      case 'partner':
      case 'inAdmin':
      case 'otherKey':
        return { 'x-api-key': keys[caller] ?? '' };
      case 'pkNo':
        return { 'x-api-key': (scope && keys[`pkNo:${scope}`]) || keys.pk || '' };
      case 'owner':
        return personal(a.owner, a.ownerEmail);
      case 'admin':
        return personal(a.admin, a.adminEmail);
      case 'member':
        return personal(a.member, a.memberEmail);
      case 'otherJwt':
        return personal(b.owner, b.ownerEmail);
      case 'adminKey':
        return asAdmin;
    }
  }

  const endpoints = new Map(
    allEndpoints().map((endpoint) => [`${endpoint.method} ${endpoint.path}`, endpoint]),
  );
  for (const [operation, row] of Object.entries(MATRIX)) {
    const expected = expectations(row);
    const endpoint = endpoints.get(operation);
    it(operation, async () => {
      assert.ok(endpoint, operation);
      const auth = endpoint.auth === 'none' ? undefined : endpoint.auth;
      const scope = auth?.apiKey?.scopes[0];
      const failures: string[] = [];
      for (const caller of CALLERS) {
        const params = { ...paramsFor(endpoint.path), ...(await fresh[operation]?.()) };
        const path = endpoint.path.replace(/\{(\w+)\}/g, (_, name: string) => params[name] ?? '');
        const res = await send(ctx.app, endpoint.method, path, {
          headers: await headersOf(caller, operation, scope),
          ...(['POST', 'PUT', 'PATCH'].includes(endpoint.method) ? { json: {} } : {}),
        });
        const outcome: Outcome | string =
          res.status === 401
            ? '401'
            : res.status === 403
              ? res.body?.code === 'insufficient_scope'
                ? 'scope'
                : res.body?.code === 'forbidden'
                  ? '403'
                  : `403 ${res.body?.code}`
              : res.status === 404
                ? '404'
                : res.status < 300 || res.status === 422
                  ? 'ok'
                  : String(res.status);
        if (outcome !== expected[caller])
          failures.push(`${caller}: expected ${expected[caller]}, got ${outcome} ${res.text.slice(0, 160)}`);
      }
      assert.deepEqual(failures, []);
    });
  }

  it('every operation of the table is in the OpenAPI document', async () => {
    const res = await send(ctx.app, 'GET', '/api/openapi.json');
    const doc = res.body as { paths: Record<string, Record<string, unknown>> };
    for (const operation of [...Object.keys(MATRIX), ...PUBLIC]) {
      const [method = '', path = ''] = operation.split(' ');
      assert.ok(doc.paths[path]?.[method.toLowerCase()], `${operation} is missing from the OpenAPI document`);
    }
  });
});
