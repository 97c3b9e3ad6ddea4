import * as z from 'zod';
import { pageQuery, pageSchema } from '../db/pagination.js';
import { defineEndpoint } from '../http/endpoint.js';
import { emailSchema } from '../identity/email.js';
import { addMember, changeMember, removeMember } from '../identity/team.service.js';
import { listTenantUsers } from '../identity/user.repository.js';
import { memberSchema, roleSchema, toMemberView } from '../identity/views.js';
import { lazy } from '../lazy.js';
import { policies } from '../ratelimit/policies.js';
import { displayNameSchema } from '../validation/text.js';

const tags = ['Team members'];
const tenantParams = lazy(() => z.object({ tenantId: z.uuid() }));
const memberParams = lazy(() => z.object({ tenantId: z.uuid(), memberId: z.uuid() }));
const managers = { apiKey: { scopes: ['team'] }, person: { roles: ['owner', 'admin'] } } as const;

export const listMembersEndpoint = defineEndpoint({
  method: 'GET',
  path: '/v1/tenants/{tenantId}/team-members',
  summary: "List the tenant's people",
  tags,
  auth: { apiKey: { scopes: ['team'] }, person: {} },
  params: tenantParams,
  query: pageQuery,
  response: {
    status: 200,
    description: 'A page of team members',
    schema: () => pageSchema(memberSchema()),
  },
  handler: async (ctx, { params, query }) => {
    const page = await listTenantUsers(ctx.db, params.tenantId, query);
    return { data: page.data.map(toMemberView), next_cursor: page.next_cursor };
  },
});

export const addMemberEndpoint = defineEndpoint({
  method: 'POST',
  path: '/v1/tenants/{tenantId}/team-members',
  summary: 'Add a person with a temporary password (returned once)',
  tags,
  auth: managers,
  params: tenantParams,
  body: () => z.strictObject({ email: emailSchema(), name: displayNameSchema(), role: roleSchema() }),
  // Successes and refusals (a 409 for an existing email included) count alike: see API.md §5.
  rateLimit: { byTenant: policies.teamInviteByTenant, byCaller: policies.teamInviteByCaller },
  response: {
    status: 201,
    description: 'The new member and their temporary password',
    schema: () => z.object({ member: memberSchema(), temporary_password: z.string() }),
  },
  errors: [409],
  handler: async (ctx, { params, body }) => {
    const { member, temporaryPassword } = await addMember(
      ctx.app,
      ctx.caller,
      ctx.actor,
      params.tenantId,
      body,
    );
    return { member: toMemberView(member), temporary_password: temporaryPassword };
  },
});

export const changeMemberEndpoint = defineEndpoint({
  method: 'PATCH',
  path: '/v1/tenants/{tenantId}/team-members/{memberId}',
  summary: "Change a member's role or status (their sessions end)",
  tags,
  auth: managers,
  params: memberParams,
  body: () =>
    z
      .strictObject({ role: roleSchema().optional(), status: z.enum(['active', 'disabled']).optional() })
      .refine((body) => body.role !== undefined || body.status !== undefined, 'send role or status'),
  response: { status: 200, description: 'The updated member', schema: memberSchema },
  errors: [409],
  handler: async (ctx, { params, body }) => {
    const member = await changeMember(ctx.app, ctx.caller, ctx.actor, params.tenantId, params.memberId, body);
    return toMemberView(member);
  },
});

export const removeMemberEndpoint = defineEndpoint({
  method: 'DELETE',
  path: '/v1/tenants/{tenantId}/team-members/{memberId}',
  summary: 'Remove a member (their sessions end at once)',
  tags,
  auth: managers,
  params: memberParams,
  response: { status: 204, description: 'Removed' },
  errors: [409],
  handler: async (ctx, { params }) => {
    await removeMember(ctx.app, ctx.caller, ctx.actor, params.tenantId, params.memberId);
    return undefined;
  },
});

export const teamEndpoints = [
  listMembersEndpoint,
  addMemberEndpoint,
  changeMemberEndpoint,
  removeMemberEndpoint,
];
