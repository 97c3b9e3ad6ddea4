import type { z } from 'zod';
import { isAdmin } from '../auth/caller.js';
import { pageSchema } from '../db/pagination.js';
import { NotFoundError } from '../errors.js';
import { defineEndpoint, type HandlerContext, Reply } from '../http/endpoint.js';
import { RATE_WINDOW_SECONDS, tierRules } from '../vocabulary.js';
import { findApiKey, findApiKeyTenant, findTenantMaxTier, listApiKeys } from './api-key.repository.js';
import {
  createKeyBody,
  createTenantKeyBody,
  keyParams,
  keySchema,
  keyUsageSchema,
  keyWithSecretSchema,
  listKeysQuery,
  listTenantKeysQuery,
  rotateKeyBody,
  tenantKeyParams,
  toKeyView,
  updateKeyBody,
  verifyKeyBody,
  verifyKeyResponse,
} from './api-key.schemas.js';
import { changeKey, createKey, type KeyActor, revokeKey, rotateKey } from './api-key.service.js';
import { keyChanged } from './key-cache.js';
import { usageWindows } from './key-usage.js';
import { verifyApiKey } from './verify.js';

const tags = ['API keys'];
/** People manage their tenant's keys (owners and admins change them); admins manage any tenant's. */
const readers = { admin: true, person: {} } as const;
const managers = { admin: true, person: { roles: ['owner', 'admin'] } } as const;
/** `/v1/api-keys/{id}`: the key's tenant is the request's tenant; another tenant's key is a 404. */
const ownedKey = { ownerOf: 'id', lookup: findApiKeyTenant } as const;

/** Creates a key for the request's tenant (both create routes) and answers with its secret, once. */
async function issueKey(ctx: HandlerContext, body: z.output<ReturnType<typeof createKeyBody>>) {
  const { row, secret } = await createKey(keyActor(ctx), ctx.tenantId, {
    name: body.name,
    tier: body.tier,
    scopes: body.scopes,
    ipWhitelist: body.ip_whitelist,
    expiresInDays: body.expires_in_days,
  });
  return { ...toKeyView(row, ctx.now()), key: secret };
}

function keyActor(ctx: HandlerContext): KeyActor {
  return {
    db: ctx.db,
    actor: ctx.actor,
    admin: isAdmin(ctx.caller),
    at: ctx.now(),
    onChange: (hashes) => keyChanged(ctx.app, hashes),
  };
}

export const createKeyEndpoint = defineEndpoint({
  method: 'POST',
  path: '/v1/api-keys',
  summary: 'Create an API key for your tenant (the full key is in this response only)',
  tags,
  auth: managers,
  tenant: 'caller',
  body: createKeyBody,
  response: { status: 201, description: 'The new key, with `key`', schema: keyWithSecretSchema },
  errors: [409],
  handler: async (ctx, { body }) => issueKey(ctx, body),
});

export const listKeysEndpoint = defineEndpoint({
  method: 'GET',
  path: '/v1/api-keys',
  summary: "List your tenant's API keys, newest first (`?status=` filters)",
  tags,
  auth: readers,
  tenant: 'caller',
  query: listKeysQuery,
  response: { status: 200, description: 'A page of keys', schema: () => pageSchema(keySchema()) },
  handler: async (ctx, { query }) => {
    // An admin may name any tenant: one that does not exist is a 404, not an empty page.
    if (isAdmin(ctx.caller) && !(await findTenantMaxTier(ctx.db, ctx.tenantId))) throw new NotFoundError();
    const at = ctx.now();
    const page = await listApiKeys(ctx.db, ctx.tenantId, query, query.status, at);
    return { data: page.data.map((row) => toKeyView(row, at)), next_cursor: page.next_cursor };
  },
});

export const getKeyEndpoint = defineEndpoint({
  method: 'GET',
  path: '/v1/api-keys/{id}',
  summary: 'Get an API key',
  tags,
  auth: readers,
  tenant: ownedKey,
  params: keyParams,
  response: { status: 200, description: 'The key', schema: keySchema },
  handler: async (ctx, { params }) => {
    const row = await findApiKey(ctx.db, ctx.tenantId, params.id);
    if (!row) throw new NotFoundError();
    return toKeyView(row, ctx.now());
  },
});

function updateKeyEndpoint(method: 'PUT' | 'PATCH') {
  return defineEndpoint({
    method,
    path: '/v1/api-keys/{id}',
    summary: `Change a key's name, scopes or IP allow-list (${method}: partial, like ${method === 'PUT' ? 'PATCH' : 'PUT'})`,
    tags,
    auth: managers,
    tenant: ownedKey,
    params: keyParams,
    body: updateKeyBody,
    response: { status: 200, description: 'The updated key', schema: keySchema },
    errors: [409],
    handler: async (ctx, { params, body }) => {
      const row = await changeKey(keyActor(ctx), ctx.tenantId, params.id, body);
      return toKeyView(row, ctx.now());
    },
  });
}

export const revokeKeyEndpoint = defineEndpoint({
  method: 'DELETE',
  path: '/v1/api-keys/{id}',
  summary: 'Revoke an API key (it stops working on the next request)',
  tags,
  auth: managers,
  tenant: ownedKey,
  params: keyParams,
  response: { status: 200, description: 'The revoked key', schema: keySchema },
  handler: async (ctx, { params }) =>
    toKeyView(await revokeKey(keyActor(ctx), ctx.tenantId, params.id), ctx.now()),
});

export const rotateKeyEndpoint = defineEndpoint({
  method: 'POST',
  path: '/v1/api-keys/{id}/rotate',
  summary: 'Give a key a new secret; the previous one works for the grace period',
  tags,
  auth: managers,
  tenant: ownedKey,
  params: keyParams,
  body: rotateKeyBody,
  response: { status: 200, description: 'The key with its new `key`', schema: keyWithSecretSchema },
  errors: [409],
  handler: async (ctx, { params, body }) => {
    const { row, secret } = await rotateKey(keyActor(ctx), ctx.tenantId, params.id, body.grace_period_hours);
    return { ...toKeyView(row, ctx.now()), key: secret };
  },
});

export const keyUsageEndpoint = defineEndpoint({
  method: 'GET',
  path: '/v1/api-keys/{id}/usage',
  summary: "A key's requests per window over the last 24 hours",
  tags,
  auth: readers,
  tenant: ownedKey,
  params: keyParams,
  response: {
    status: 200,
    description: 'The 96 windows of the last 24 hours, oldest first, and the last use',
    schema: keyUsageSchema,
  },
  handler: async (ctx, { params }) => {
    const row = await findApiKey(ctx.db, ctx.tenantId, params.id);
    if (!row) throw new NotFoundError();
    return {
      key_id: row.id,
      windows: await usageWindows(ctx.app.signals, row.id, row.tier, ctx.now()),
      last_used_at: row.last_used_at?.toISOString() ?? null,
      last_used_ip: row.last_used_ip,
    };
  },
});

export const verifyKeyEndpoint = defineEndpoint({
  method: 'POST',
  path: '/v1/keys/verify',
  summary: 'Verify an API key another backend received (refusals are data, not errors)',
  tags: ['Service'],
  auth: { admin: true },
  body: verifyKeyBody,
  response: {
    status: 200,
    description: 'Whether the key is valid, and why not',
    schema: verifyKeyResponse,
  },
  handler: async (ctx, { body }) => {
    // The same function the request pipeline uses; an allow-list admits no request without `ip`.
    const result = await verifyApiKey(ctx.db, body.key, {
      at: ctx.now(),
      ip: body.ip ?? null,
      ...(body.scope ? { scopes: [body.scope] } : {}),
    });
    const key = result.key;
    return new Reply(200, {
      valid: result.valid,
      code: result.valid ? 'valid' : result.code,
      ...(key
        ? {
            key_id: key.id,
            tenant_id: key.tenantId,
            tier: key.tier,
            scopes: key.scopes,
            expires_at: key.expiresAt.toISOString(),
            rate_limit: { limit: tierRules[key.tier].limit, window_seconds: RATE_WINDOW_SECONDS },
          }
        : {}),
    });
  },
});

export const apiKeyEndpoints = [
  createKeyEndpoint,
  listKeysEndpoint,
  getKeyEndpoint,
  updateKeyEndpoint('PUT'),
  updateKeyEndpoint('PATCH'),
  revokeKeyEndpoint,
  rotateKeyEndpoint,
  keyUsageEndpoint,
  verifyKeyEndpoint,
];

// Admins manage a tenant's keys under the tenant (API.md "Tenants and tenant keys").
const tenantTags = ['Tenants'];

export const createTenantKeyEndpoint = defineEndpoint({
  method: 'POST',
  path: '/v1/tenants/{tenantId}/api-keys',
  summary: "Issue a key to a tenant (any tier, the tenant's max_tier aside)",
  tags: tenantTags,
  auth: { admin: true },
  tenant: 'path',
  params: () => tenantKeyParams().pick({ tenantId: true }),
  body: createTenantKeyBody,
  response: { status: 201, description: 'The new key, with `key`', schema: keyWithSecretSchema },
  errors: [409],
  handler: async (ctx, { body }) => issueKey(ctx, body),
});

export const listTenantKeysEndpoint = defineEndpoint({
  method: 'GET',
  path: '/v1/tenants/{tenantId}/api-keys',
  summary: "List a tenant's keys",
  tags: tenantTags,
  auth: { admin: true },
  tenant: 'path',
  params: () => tenantKeyParams().pick({ tenantId: true }),
  query: listTenantKeysQuery,
  response: { status: 200, description: 'A page of keys', schema: () => pageSchema(keySchema()) },
  handler: async (ctx, { query }) => {
    if (!(await findTenantMaxTier(ctx.db, ctx.tenantId))) throw new NotFoundError();
    const at = ctx.now();
    const page = await listApiKeys(ctx.db, ctx.tenantId, query, query.status, at);
    return { data: page.data.map((row) => toKeyView(row, at)), next_cursor: page.next_cursor };
  },
});

export const revokeTenantKeyEndpoint = defineEndpoint({
  method: 'DELETE',
  path: '/v1/tenants/{tenantId}/api-keys/{keyId}',
  summary: "Revoke a tenant's key",
  tags: tenantTags,
  auth: { admin: true },
  tenant: 'path',
  params: tenantKeyParams,
  response: { status: 200, description: 'The revoked key', schema: keySchema },
  handler: async (ctx, { params }) =>
    toKeyView(await revokeKey(keyActor(ctx), ctx.tenantId, params.keyId), ctx.now()),
});

export const tenantKeyEndpoints = [createTenantKeyEndpoint, listTenantKeysEndpoint, revokeTenantKeyEndpoint];
