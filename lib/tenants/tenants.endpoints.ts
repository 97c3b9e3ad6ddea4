import * as z from 'zod';
import { recordAudit } from '../audit/audit.repository.js';
import { pageQuery, pageSchema } from '../db/pagination.js';
import { NotFoundError } from '../errors.js';
import { defineEndpoint } from '../http/endpoint.js';
import { insertPerson, prepareTemporaryPassword } from '../identity/person.service.js';
import { findTenant, listTenants } from './tenant.repository.js';
import { createTenantBody, tenantParams, tenantSchema, updateTenantBody } from './tenant.schemas.js';
import { changeTenant, createTenant, tenantChanged, toTenantView } from './tenant.service.js';

const tags = ['Tenants'];

export const createTenantEndpoint = defineEndpoint({
  method: 'POST',
  path: '/v1/tenants',
  summary: 'Create a tenant',
  tags,
  auth: { admin: true },
  body: createTenantBody,
  response: {
    status: 201,
    description: 'The new tenant and its owner, whose temporary password is shown only here',
    schema: () =>
      z.object({
        tenant: tenantSchema(),
        owner: z.object({ id: z.uuid(), email: z.string(), temporary_password: z.string() }),
      }),
  },
  errors: [409],
  handler: async (ctx, { body }) => {
    const temporary = await prepareTemporaryPassword(ctx.app.config.bcryptCost);
    const at = ctx.now();
    // The tenant, its owner and both audit events commit together or not at all.
    const { tenant, owner } = await ctx.db.transaction().execute(async (trx) => {
      const tenant = await createTenant(
        trx,
        ctx.actor,
        { name: body.name, slug: body.slug, maxTier: body.max_tier },
        at,
      );
      const owner = await insertPerson(
        trx,
        { tenantId: tenant.id, ...body.owner, role: 'owner' },
        temporary.hash,
        at,
      );
      await recordAudit(
        trx,
        ctx.actor,
        {
          tenantId: tenant.id,
          action: 'team.member_added',
          target: { type: 'user', id: owner.id },
          metadata: { role: 'owner' },
        },
        at,
      );
      return { tenant, owner };
    });
    return {
      tenant: toTenantView(tenant),
      owner: { id: owner.id, email: owner.email, temporary_password: temporary.password },
    };
  },
});

export const listTenantsEndpoint = defineEndpoint({
  method: 'GET',
  path: '/v1/tenants',
  summary: 'List tenants, newest first',
  tags,
  auth: { admin: true },
  query: pageQuery,
  response: {
    status: 200,
    description: 'A page of tenants',
    schema: () => pageSchema(tenantSchema()),
  },
  handler: async (ctx, { query }) => {
    const page = await listTenants(ctx.db, query);
    return { data: page.data.map(toTenantView), next_cursor: page.next_cursor };
  },
});

export const getTenantEndpoint = defineEndpoint({
  method: 'GET',
  path: '/v1/tenants/{tenantId}',
  summary: 'Get a tenant',
  tags,
  auth: { admin: true, apiKey: { scopes: [] }, person: {} },
  params: tenantParams,
  response: { status: 200, description: 'The tenant', schema: tenantSchema },
  handler: async (ctx, { params }) => {
    const tenant = await findTenant(ctx.db, params.tenantId);
    if (!tenant) throw new NotFoundError();
    return toTenantView(tenant);
  },
});

export const updateTenantEndpoint = defineEndpoint({
  method: 'PATCH',
  path: '/v1/tenants/{tenantId}',
  summary: "Change a tenant's name, status or maximum key tier",
  tags,
  auth: { admin: true },
  params: tenantParams,
  body: updateTenantBody,
  response: { status: 200, description: 'The updated tenant', schema: tenantSchema },
  handler: async (ctx, { params, body }) => {
    const tenant = await changeTenant(ctx.db, ctx.actor, params.tenantId, body, ctx.now());
    // After the commit: every instance re-verifies its cached keys and logins once (lib/ratelimit/signals.ts):
    // a status decides both, and a login's cached row shows the tenant's name and tier on /v1/auth/me.
    await tenantChanged(ctx.app);
    return toTenantView(tenant);
  },
});

export const tenantEndpoints = [
  createTenantEndpoint,
  listTenantsEndpoint,
  getTenantEndpoint,
  updateTenantEndpoint,
];
