import * as z from 'zod';
import { defineEndpoint } from '../http/endpoint.js';
import { emailSchema } from '../identity/email.js';
import { lazy } from '../lazy.js';
import { displayNameSchema } from '../validation/text.js';
import { masked } from './masking.js';
import {
  type BusinessSettingsRow,
  findBusinessSettings,
  findFirsConnection,
  findFirsCredentials,
} from './settings.repository.js';
import { saveBusinessSettings, saveFirsCredentials } from './settings.service.js';

const tags = ['Settings'];
const tenantParams = lazy(() => z.object({ tenantId: z.uuid() }));
const readers = { apiKey: { scopes: ['settings'] }, person: {} } as const;
const writers = { apiKey: { scopes: ['settings'] }, person: { roles: ['owner', 'admin'] } } as const;
const credentialHolders = {
  apiKey: { scopes: ['credentials'] },
  person: { roles: ['owner', 'admin'] },
} as const;

const line = lazy(() => z.string().trim().min(1).max(200));
/** FIRS TINs are digits with hyphens (`12345678-0001`); 8–20 characters, starting with a digit. */
const tinSchema = lazy(() =>
  z
    .string()
    .trim()
    .regex(/^\d[\d-]{7,19}$/, 'a TIN is 8–20 digits and hyphens'),
);
const phoneSchema = lazy(() =>
  z
    .string()
    .trim()
    .regex(/^\+?[0-9 ()-]{7,20}$/, 'a phone number: digits, spaces, ( ) -, optional +'),
);

export const businessSettingsBody = lazy(() =>
  z.strictObject({
    legal_name: displayNameSchema(),
    trade_name: displayNameSchema().optional(),
    tin: tinSchema(),
    email: emailSchema(),
    phone: phoneSchema().optional(),
    address: z
      .strictObject({
        line1: line(),
        city: line(),
        state: line(),
        country: z.string().regex(/^[A-Z]{2}$/, 'an ISO 3166-1 alpha-2 code (NG)'),
      })
      .optional(),
  }),
);

const addressSchema = lazy(() =>
  z.object({
    line1: z.string(),
    city: z.string(),
    state: z.string(),
    country: z.string(),
  }),
);
const businessSettingsView = lazy(() =>
  z.object({
    tenant_id: z.uuid(),
    legal_name: z.string().nullable(),
    trade_name: z.string().nullable(),
    tin: z.string().nullable(),
    email: z.string().nullable(),
    phone: z.string().nullable(),
    address: addressSchema().nullable(),
    updated_at: z.string().nullable(),
  }),
);

function toBusinessView(tenantId: string, row: BusinessSettingsRow | undefined) {
  return {
    tenant_id: tenantId,
    legal_name: row?.legal_name ?? null,
    trade_name: row?.trade_name ?? null,
    tin: row?.tin ?? null,
    email: row?.email ?? null,
    phone: row?.phone ?? null,
    address: (row?.address ?? null) as z.infer<ReturnType<typeof addressSchema>> | null,
    updated_at: row?.updated_at.toISOString() ?? null,
  };
}

export const getBusinessSettingsEndpoint = defineEndpoint({
  method: 'GET',
  path: '/v1/tenants/{tenantId}/settings/business',
  summary: "The tenant's business settings (fields null until saved)",
  tags,
  auth: readers,
  tenant: 'path',
  params: tenantParams,
  response: { status: 200, description: 'Business settings', schema: businessSettingsView },
  handler: async (ctx) => toBusinessView(ctx.tenantId, await findBusinessSettings(ctx.db, ctx.tenantId)),
});

export const putBusinessSettingsEndpoint = defineEndpoint({
  method: 'PUT',
  path: '/v1/tenants/{tenantId}/settings/business',
  summary: 'Replace the business settings',
  tags,
  auth: writers,
  tenant: 'path',
  params: tenantParams,
  body: businessSettingsBody,
  response: { status: 200, description: 'The saved settings', schema: businessSettingsView },
  handler: async (ctx, { body }) => {
    const row = await saveBusinessSettings(
      { db: ctx.db, actor: ctx.actor, tenantId: ctx.tenantId, at: ctx.now() },
      {
        legal_name: body.legal_name,
        trade_name: body.trade_name ?? null,
        tin: body.tin,
        email: body.email,
        phone: body.phone ?? null,
        address: body.address ?? null,
      },
    );
    return toBusinessView(ctx.tenantId, row);
  },
});

const secret = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces');

const firsCredentialsSchema = lazy(() =>
  z.object({
    client_id: z.string().nullable(),
    client_secret: z.string().nullable().describe('The last 4 characters only (`…abcd`)'),
    api_key: z.string().nullable().describe('The last 4 characters only (`…abcd`)'),
    updated_at: z.string().nullable(),
    oauth: z.object({ connected: z.boolean(), expires_at: z.string().nullable() }),
  }),
);

async function firsCredentialsView(db: Parameters<typeof findFirsCredentials>[0], tenantId: string) {
  const [row, connection] = await Promise.all([
    findFirsCredentials(db, tenantId),
    findFirsConnection(db, tenantId),
  ]);
  return {
    client_id: row?.client_id ?? null,
    client_secret: masked(row?.client_secret_last4 ?? null),
    api_key: masked(row?.api_key_last4 ?? null),
    updated_at: row?.updated_at.toISOString() ?? null,
    oauth: { connected: connection !== undefined, expires_at: connection?.expires_at?.toISOString() ?? null },
  };
}

export const putFirsCredentialsEndpoint = defineEndpoint({
  method: 'PUT',
  path: '/v1/tenants/{tenantId}/settings/firs-credentials',
  summary: 'Save FIRS credentials (stored encrypted; answered masked)',
  tags,
  auth: credentialHolders,
  tenant: 'path',
  params: tenantParams,
  body: () =>
    z.strictObject({
      client_id: secret(200),
      client_secret: secret(500),
      api_key: secret(500).optional(),
    }),
  response: {
    status: 200,
    description: 'The saved credentials, masked',
    schema: firsCredentialsSchema,
  },
  handler: async (ctx, { body }) => {
    await saveFirsCredentials(
      { db: ctx.db, actor: ctx.actor, tenantId: ctx.tenantId, at: ctx.now() },
      ctx.app.cipher,
      body,
    );
    return firsCredentialsView(ctx.db, ctx.tenantId);
  },
});

export const getFirsCredentialsEndpoint = defineEndpoint({
  method: 'GET',
  path: '/v1/tenants/{tenantId}/settings/firs-credentials',
  summary: 'The FIRS credentials, masked, and the FIRS OAuth connection',
  tags,
  auth: credentialHolders,
  tenant: 'path',
  params: tenantParams,
  response: { status: 200, description: 'The credentials, masked', schema: firsCredentialsSchema },
  handler: async (ctx) => firsCredentialsView(ctx.db, ctx.tenantId),
});

export const settingsEndpoints = [
  getBusinessSettingsEndpoint,
  putBusinessSettingsEndpoint,
  putFirsCredentialsEndpoint,
  getFirsCredentialsEndpoint,
];
