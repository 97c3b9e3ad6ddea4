import * as z from 'zod';
import {
  createDocument,
  type ZodOpenApiOperationObject,
  type ZodOpenApiPathsObject,
  type ZodOpenApiResponseObject,
} from 'zod-openapi';
import { errorCatalog } from '../errors.js';
import type { Endpoint } from './endpoint.js';

const problemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    code: z.enum(Object.keys(errorCatalog) as [keyof typeof errorCatalog, ...(keyof typeof errorCatalog)[]]),
    detail: z.string(),
    request_id: z.string(),
    errors: z
      .array(z.object({ path: z.string(), message: z.string(), code: z.string().optional() }))
      .optional(),
  })
  .meta({ id: 'Problem', description: 'RFC 9457 problem details; `code` is stable (see /docs/errors).' });

const problem = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: problemSchema } },
});

function security(endpoint: Endpoint): ZodOpenApiOperationObject['security'] {
  if (endpoint.auth === 'none') return [];
  const options: Record<string, string[]>[] = [];
  if (endpoint.auth.admin) options.push({ adminKey: [] });
  if (endpoint.auth.apiKey) options.push({ apiKey: [...endpoint.auth.apiKey.scopes] });
  if (endpoint.auth.person) options.push({ bearerJwt: [] });
  return options;
}

/**
 * A stable, camelCase operationId from the method and path alone, so SDK generators name methods
 * the same way in every release: `GET /v1/tenants/{tenantId}/team-members` →
 * `getTenantsByTenantIdTeamMembers`. `/v1` and `/api` add nothing to a name; a parameter reads `By…`.
 */
export function operationId(endpoint: Pick<Endpoint, 'method' | 'path'>): string {
  const words = endpoint.path
    .split('/')
    .filter((segment) => segment !== '' && segment !== 'v1' && segment !== 'api')
    .flatMap((segment) => {
      const param = /^\{(\w+)\}$/.exec(segment)?.[1];
      return param ? ['by', param] : segment.split(/[^A-Za-z0-9]+/);
    })
    .filter((word) => word !== '');
  const capitalised = words.map((word) => word.charAt(0).toUpperCase() + word.slice(1));
  return `${endpoint.method.toLowerCase()}${capitalised.join('')}`;
}

function operation(endpoint: Endpoint): ZodOpenApiOperationObject {
  const responses: Record<`${1 | 2 | 3 | 4 | 5}${string}`, ZodOpenApiResponseObject> = {
    [String(endpoint.response.status)]: {
      description: endpoint.response.description,
      ...(endpoint.response.schema
        ? { content: { 'application/json': { schema: endpoint.response.schema } } }
        : {}),
    },
    '400': problem('Malformed request (invalid JSON, credentials in the URL, ambiguous credentials)'),
    '429': problem('Rate limited; see Retry-After'),
    '500': problem('Internal error'),
  };
  if (endpoint.auth !== 'none') {
    responses['401'] = problem('Missing or invalid credential');
    responses['403'] = problem('The credential may not call this endpoint');
  }
  if (endpoint.params) responses['404'] = problem('No such resource');
  if (endpoint.body) responses['422'] = problem('Validation failed');
  for (const status of endpoint.errors ?? [])
    responses[`${status}` as `${4 | 5}${string}`] ??= problem('See the error code');
  return {
    operationId: operationId(endpoint),
    summary: endpoint.summary,
    tags: [...endpoint.tags],
    security: security(endpoint),
    ...(endpoint.params || endpoint.query
      ? {
          requestParams: {
            ...(endpoint.params ? { path: endpoint.params as z.ZodObject } : {}),
            ...(endpoint.query ? { query: endpoint.query as z.ZodObject } : {}),
          },
        }
      : {}),
    ...(endpoint.body ? { requestBody: { content: { 'application/json': { schema: endpoint.body } } } } : {}),
    responses,
  };
}

/** The OpenAPI 3.1 document, generated from the same declarations that validate requests. */
export function buildOpenApiDocument(endpoints: readonly Endpoint[], serverUrl?: string) {
  const paths: ZodOpenApiPathsObject = {};
  for (const endpoint of endpoints) {
    paths[endpoint.path] = { ...paths[endpoint.path], [endpoint.method.toLowerCase()]: operation(endpoint) };
  }
  return createDocument({
    openapi: '3.1.0',
    info: {
      title: 'HEIR Auth',
      version: '1.0.0',
      description:
        'Authentication and API keys for the HEIR platform. Every /v1 path is also served under /api/v1. Errors are RFC 9457 problem+json.',
    },
    ...(serverUrl ? { servers: [{ url: serverUrl }] } : {}),
    paths,
    components: {
      securitySchemes: {
        apiKey: {
          type: 'apiKey',
          in: 'header',
          name: 'x-api-key',
          description: 'A tenant API key (heir_pk_/heir_pt_/heir_in_).',
        },
        bearerJwt: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description: 'A person’s access token.',
        },
        adminKey: {
          type: 'apiKey',
          in: 'header',
          name: 'x-admin-key',
          description: 'The platform admin key.',
        },
      },
    },
  });
}
