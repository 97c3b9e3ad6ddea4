import * as z from 'zod';
import { recordAudit } from '../audit/audit.repository.js';
import { pageQuery, pageSchema } from '../db/pagination.js';
import { ValidationError } from '../errors.js';
import { defineEndpoint } from '../http/endpoint.js';
import { lazy } from '../lazy.js';
import {
  findDictionary,
  findEventRouting,
  listSandboxRuns,
  upsertDictionary,
  upsertEventRouting,
} from './admin-resources.repository.js';
import { refusedDestination, resolveWithDns } from './destination-policy.js';
import { eventPatternSchema } from './events.js';
import { DICTIONARY_CATEGORIES, DICTIONARY_SEED, type DictionaryEntry } from './firs-dictionary.js';
import { createSandboxRun, type Route, type SandboxCheck } from './sandbox.service.js';

const admins = { admin: true } as const;
const tenantParams = lazy(() => z.object({ tenantId: z.uuid() }));

const routeSchema = lazy(() =>
  z.strictObject({
    event: eventPatternSchema,
    url: z.string().max(2048),
    enabled: z.boolean().default(true),
  }),
);
const routingSchema = lazy(() =>
  z.object({
    routes: z.array(z.object({ event: z.string(), url: z.string(), enabled: z.boolean() })),
    updated_at: z.string().nullable(),
  }),
);

export const getEventRoutingEndpoint = defineEndpoint({
  method: 'GET',
  path: '/v1/tenants/{tenantId}/event-routing',
  summary: "The tenant's event routes",
  tags: ['Event routing'],
  auth: admins,
  tenant: 'path',
  params: tenantParams,
  response: { status: 200, description: 'The routes ([] until saved)', schema: routingSchema },
  handler: async (ctx) => {
    const row = await findEventRouting(ctx.db, ctx.tenantId);
    return {
      routes: (row?.routes ?? []) as unknown as Route[],
      updated_at: row?.updated_at.toISOString() ?? null,
    };
  },
});

export const putEventRoutingEndpoint = defineEndpoint({
  method: 'PUT',
  path: '/v1/tenants/{tenantId}/event-routing',
  summary: 'Replace the event routes (each URL passes the SSRF rule when saved)',
  tags: ['Event routing'],
  auth: admins,
  tenant: 'path',
  params: tenantParams,
  body: () => z.strictObject({ routes: z.array(routeSchema()).max(50) }),
  response: { status: 200, description: 'The saved routes', schema: routingSchema },
  handler: async (ctx, { body }) => {
    const errors = [];
    for (const [index, route] of body.routes.entries()) {
      const reason = await refusedDestination(route.url, resolveWithDns);
      if (reason)
        errors.push({
          path: `routes.${index}.url`,
          message: `The URL ${reason}.`,
          code: 'destination_refused',
        });
    }
    if (errors.length > 0) throw new ValidationError(errors, 'Some destinations are not allowed.');
    const at = ctx.now();
    const row = await ctx.db.transaction().execute(async (trx) => {
      const saved = await upsertEventRouting(trx, ctx.tenantId, body.routes, at);
      await recordAudit(
        trx,
        ctx.actor,
        {
          tenantId: ctx.tenantId,
          action: 'event_routing.updated',
          target: { type: 'tenant', id: ctx.tenantId },
          metadata: {
            routes: body.routes.map((route) => ({
              event: route.event,
              url: route.url,
              enabled: route.enabled,
            })),
          },
        },
        at,
      );
      return saved;
    });
    return { routes: row.routes as unknown as Route[], updated_at: row.updated_at.toISOString() };
  },
});

const runSchema = lazy(() =>
  z.object({
    id: z.uuid(),
    ok: z.boolean(),
    checks: z.array(z.object({ name: z.string(), ok: z.boolean(), detail: z.string() })),
    created_at: z.string(),
  }),
);
const toRunView = (row: { id: string; ok: boolean; checks: unknown; created_at: Date }) => ({
  id: row.id,
  ok: row.ok,
  checks: row.checks as SandboxCheck[],
  created_at: row.created_at.toISOString(),
});

export const createSandboxRunEndpoint = defineEndpoint({
  method: 'POST',
  path: '/v1/tenants/{tenantId}/sandbox/runs',
  summary: "Check the tenant's setup and keep the report",
  tags: ['Sandbox'],
  auth: admins,
  tenant: 'path',
  params: tenantParams,
  body: () => z.strictObject({}),
  response: { status: 201, description: 'The run with its named checks', schema: runSchema },
  handler: async (ctx) =>
    toRunView(
      await createSandboxRun(
        { db: ctx.db, actor: ctx.actor, tenantId: ctx.tenantId, at: ctx.now() },
        resolveWithDns,
      ),
    ),
});

export const listSandboxRunsEndpoint = defineEndpoint({
  method: 'GET',
  path: '/v1/tenants/{tenantId}/sandbox/runs',
  summary: "The tenant's sandbox runs, newest first",
  tags: ['Sandbox'],
  auth: admins,
  tenant: 'path',
  params: tenantParams,
  query: pageQuery,
  response: { status: 200, description: 'A page of runs', schema: () => pageSchema(runSchema()) },
  handler: async (ctx, { query }) => {
    const page = await listSandboxRuns(ctx.db, ctx.tenantId, query);
    return { data: page.data.map(toRunView), next_cursor: page.next_cursor };
  },
});

const categoryParams = lazy(() => z.object({ category: z.enum(DICTIONARY_CATEGORIES) }));
const entrySchema = lazy(() =>
  z.strictObject({
    code: z.string().regex(/^[A-Za-z0-9_.-]{1,20}$/, '1–20 letters, digits, _ . -'),
    label: z.string().trim().min(1).max(200),
    description: z.string().trim().min(1).max(1000).optional(),
    rate: z.number().min(0).max(100).optional(),
  }),
);
const dictionarySchema = lazy(() =>
  z.object({
    category: z.enum(DICTIONARY_CATEGORIES),
    entries: z.array(
      z.object({
        code: z.string(),
        label: z.string(),
        description: z.string().optional(),
        rate: z.number().optional(),
      }),
    ),
    updated_at: z.string().nullable().describe('null while the built-in entries answer'),
  }),
);

export const getDictionaryEndpoint = defineEndpoint({
  method: 'GET',
  path: '/v1/firs/dictionary/{category}',
  summary: 'A FIRS code list (any valid credential)',
  tags: ['FIRS dictionary'],
  // Any valid credential: every person, every API key whatever its scopes, admins.
  auth: { admin: true, apiKey: { scopes: [] }, person: {} },
  params: categoryParams,
  response: { status: 200, description: 'The category and its entries', schema: dictionarySchema },
  handler: async (ctx, { params }) => {
    const row = await findDictionary(ctx.db, params.category);
    return {
      category: params.category,
      entries: (row?.entries as unknown as DictionaryEntry[] | undefined) ?? [
        ...DICTIONARY_SEED[params.category],
      ],
      updated_at: row?.updated_at.toISOString() ?? null,
    };
  },
});

export const putDictionaryEndpoint = defineEndpoint({
  method: 'PUT',
  path: '/v1/firs/dictionary/{category}',
  summary: "Replace a FIRS code list's entries",
  tags: ['FIRS dictionary'],
  auth: admins,
  params: categoryParams,
  body: () =>
    z.strictObject({
      entries: z
        .array(entrySchema())
        .min(1)
        .max(1000)
        .superRefine((entries, issue) => {
          const seen = new Set<string>();
          entries.forEach((entry, index) => {
            if (seen.has(entry.code))
              issue.addIssue({ code: 'custom', path: [index, 'code'], message: 'duplicate code' });
            seen.add(entry.code);
          });
        }),
    }),
  response: { status: 200, description: 'The saved category', schema: dictionarySchema },
  handler: async (ctx, { params, body }) => {
    const at = ctx.now();
    const row = await ctx.db.transaction().execute(async (trx) => {
      const saved = await upsertDictionary(trx, params.category, body.entries, at);
      await recordAudit(
        trx,
        ctx.actor,
        {
          tenantId: null,
          action: 'firs_dictionary.updated',
          target: { type: 'firs_dictionary', id: params.category },
          metadata: { entries: body.entries.length },
        },
        at,
      );
      return saved;
    });
    return {
      category: params.category,
      entries: row.entries as unknown as DictionaryEntry[],
      updated_at: row.updated_at.toISOString(),
    };
  },
});

export const adminResourceEndpoints = [
  getEventRoutingEndpoint,
  putEventRoutingEndpoint,
  createSandboxRunEndpoint,
  listSandboxRunsEndpoint,
  getDictionaryEndpoint,
  putDictionaryEndpoint,
];
