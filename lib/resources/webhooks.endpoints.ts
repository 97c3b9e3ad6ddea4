import * as z from 'zod';
import { pageQuery, pageSchema } from '../db/pagination.js';
import { defineEndpoint } from '../http/endpoint.js';
import { lazy } from '../lazy.js';
import { resolveWithDns } from './destination-policy.js';
import { eventPatternSchema } from './events.js';
import { findWebhookTenant, listWebhooks } from './webhooks.repository.js';
import { subscribeWebhook, unsubscribeWebhook } from './webhooks.service.js';

const tags = ['Webhooks'];
// A public key cannot carry `webhooks` (lib/vocabulary.ts), so the scope alone admits partner keys and up.
const webhookKeys = { apiKey: { scopes: ['webhooks'] } } as const;

const webhookSchema = lazy(() =>
  z.object({
    id: z.uuid(),
    url: z.string(),
    events: z.array(z.string()),
    created_at: z.string(),
  }),
);

function toWebhookView(row: { id: string; url: string; events: string[]; created_at: Date }) {
  return { id: row.id, url: row.url, events: row.events, created_at: row.created_at.toISOString() };
}

export const createWebhookEndpoint = defineEndpoint({
  method: 'POST',
  path: '/v1/webhooks',
  summary: 'Subscribe an https URL to events (the signing secret is shown once)',
  tags,
  auth: webhookKeys,
  tenant: 'caller',
  body: () =>
    z.strictObject({
      url: z.string().max(2048),
      events: z.array(eventPatternSchema).min(1).max(20),
    }),
  response: {
    status: 201,
    description: 'The subscription with its signing secret (shown only here)',
    schema: () => webhookSchema().extend({ secret: z.string() }),
  },
  handler: async (ctx, { body }) => {
    const { row, secret } = await subscribeWebhook(
      { db: ctx.db, actor: ctx.actor, tenantId: ctx.tenantId, at: ctx.now() },
      ctx.app.cipher,
      resolveWithDns,
      body,
    );
    return { ...toWebhookView(row), secret };
  },
});

export const listWebhooksEndpoint = defineEndpoint({
  method: 'GET',
  path: '/v1/webhooks',
  summary: "The tenant's webhook subscriptions, newest first (never their secrets)",
  tags,
  auth: webhookKeys,
  tenant: 'caller',
  query: pageQuery,
  response: {
    status: 200,
    description: 'A page of subscriptions',
    schema: () => pageSchema(webhookSchema()),
  },
  handler: async (ctx, { query }) => {
    const page = await listWebhooks(ctx.db, ctx.tenantId, query);
    return { data: page.data.map(toWebhookView), next_cursor: page.next_cursor };
  },
});

export const deleteWebhookEndpoint = defineEndpoint({
  method: 'DELETE',
  path: '/v1/webhooks/{id}',
  summary: 'Delete a subscription',
  tags,
  auth: webhookKeys,
  tenant: { ownerOf: 'id', lookup: findWebhookTenant },
  params: () => z.object({ id: z.uuid() }),
  response: { status: 204, description: 'Deleted' },
  handler: async (ctx, { params }) => {
    await unsubscribeWebhook(
      { db: ctx.db, actor: ctx.actor, tenantId: ctx.tenantId, at: ctx.now() },
      params.id,
    );
    return undefined;
  },
});

export const webhookEndpoints = [createWebhookEndpoint, listWebhooksEndpoint, deleteWebhookEndpoint];
