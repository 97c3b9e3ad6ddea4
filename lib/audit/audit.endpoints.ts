import * as z from 'zod';
import { pageQuery, pageSchema } from '../db/pagination.js';
import { defineEndpoint } from '../http/endpoint.js';
import { lazy } from '../lazy.js';
import { listAuditEvents } from './audit.repository.js';

const auditEventSchema = lazy(() =>
  z
    .object({
      id: z.uuid(),
      action: z.string(),
      actor: z.object({ type: z.string(), id: z.string().nullable() }),
      target: z.object({ type: z.string(), id: z.string() }).nullable(),
      ip: z.string().nullable(),
      request_id: z.string().nullable(),
      created_at: z.iso.datetime(),
      metadata: z.record(z.string(), z.unknown()),
    })
    .meta({ id: 'AuditEvent' }),
);

export const listAuditEventsEndpoint = defineEndpoint({
  method: 'GET',
  path: '/v1/tenants/{tenantId}/audit-events',
  summary: "The tenant's audit log, newest first",
  tags: ['Tenants'],
  auth: { admin: true, person: { roles: ['owner', 'admin'] } },
  params: () => z.object({ tenantId: z.uuid() }),
  query: pageQuery,
  response: {
    status: 200,
    description: 'A page of audit events',
    schema: () => pageSchema(auditEventSchema()),
  },
  handler: async (ctx, { params, query }) => {
    const page = await listAuditEvents(ctx.db, params.tenantId, query);
    return {
      data: page.data.map((row) => ({
        id: row.id,
        action: row.action,
        actor: { type: row.actor_type, id: row.actor_id },
        target: row.target_type && row.target_id ? { type: row.target_type, id: row.target_id } : null,
        ip: row.ip,
        request_id: row.request_id,
        created_at: row.created_at.toISOString(),
        metadata: (row.metadata ?? {}) as Record<string, unknown>,
      })),
      next_cursor: page.next_cursor,
    };
  },
});
export const auditEndpoints = [listAuditEventsEndpoint];
