import type { z } from 'zod';
import type { AuthSpec, Caller } from '../auth/caller.js';
import type { Db } from '../db/database.js';
import { lazy } from '../lazy.js';
import type { RateLimitPolicy } from '../ratelimit/limiter.js';
import type { RequestContext } from './context.js';

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface EndpointInput<B, Q, P> {
  readonly body: B;
  readonly query: Q;
  readonly params: P;
}

/** A response with a status or headers other than the endpoint's declared default. */
export class Reply {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {}
}

/**
 * Which tenant a request acts on, resolved once by the pipeline (before authorisation) and handed to
 * the handler as `ctx.tenantId`; repositories filter by it, so no handler can forget it.
 * - `'path'`: the `{tenantId}` path parameter (implied whenever the path has one). Another tenant's
 *   id is a 404 for every caller but admins.
 * - `'caller'`: the caller's own tenant (a key's or a person's). Admins have none: they name it with
 *   `tenant_id` in the body or the query, which other callers may not send (422).
 * - `{ownerOf, lookup}`: the tenant that owns the resource named by the path parameter `ownerOf`
 *   (`lookup` answers its tenant id). A resource of another tenant is a 404 exactly like a missing
 *   one; for admins the owner becomes the request's tenant.
 */
export type TenantSource =
  | 'path'
  | 'caller'
  | {
      readonly ownerOf: string;
      readonly lookup: (db: Db, id: string) => Promise<string | undefined>;
    };

type AdminCaller = Extract<Caller, { kind: 'admin_key' | 'api_key' }>;

/** The callers an `auth` declaration admits, so handlers need no `caller.kind` checks. */
export type CallerFor<A> = A extends 'none'
  ? Caller
  :
      | (A extends { admin: true } ? AdminCaller : never)
      | (A extends { apiKey: object } ? Extract<Caller, { kind: 'api_key' }> : never)
      | (A extends { person: object } ? Extract<Caller, { kind: 'person' }> : never);

/** The request context as a handler of an endpoint declared with `auth: A` and `tenant: T` sees it. */
export type HandlerContext<A = AuthSpec, T = TenantSource | undefined> = Omit<
  RequestContext,
  'caller' | 'tenantId'
> & {
  readonly caller: CallerFor<A>;
  readonly tenantId: [T] extends [undefined] ? string | null : string;
};

type Schema = z.ZodType;
type Out<S> = S extends z.ZodType ? z.output<S> : undefined;

export interface Endpoint<
  B extends Schema | undefined = Schema | undefined,
  Q extends Schema | undefined = Schema | undefined,
  P extends Schema | undefined = Schema | undefined,
  A extends AuthSpec = AuthSpec,
  T extends TenantSource | undefined = TenantSource | undefined,
> {
  readonly method: Method;
  /** OpenAPI-style path under /v1 (or /api, /.well-known), e.g. `/v1/tenants/{tenantId}`. */
  readonly path: string;
  readonly summary: string;
  readonly tags: readonly string[];
  readonly auth: A;
  /** The tenant the request acts on (see TenantSource); `'path'` is implied by a `{tenantId}`. */
  readonly tenant?: T;
  readonly body?: B;
  readonly query?: Q;
  /** Path parameters; a value that fails this schema answers 404 (no such resource). */
  readonly params?: P;
  readonly response: {
    readonly status: 200 | 201 | 202 | 204;
    readonly description: string;
    readonly schema?: Schema;
  };
  /**
   * Extra limits, counted by the pipeline for every request that reaches the endpoint's input
   * validation (so refusals such as a 409 count as much as successes): per client address (an IPv6
   * client by its /64), per verified caller (a person, an API key or the admin key), per tenant (the
   * path's `{tenantId}`, else the caller's), and per a key taken from the validated body (e.g. the
   * canonical email of a forgot-password request).
   */
  readonly rateLimit?: {
    readonly byIp?: RateLimitPolicy;
    readonly byCaller?: RateLimitPolicy;
    readonly byTenant?: RateLimitPolicy;
    readonly byBody?: { readonly policy: RateLimitPolicy; readonly key: (body: Out<B>) => string };
  };
  /** Extra error statuses this endpoint documents (besides the ones every endpoint can answer). */
  readonly errors?: readonly number[];
  readonly handler: (
    ctx: HandlerContext<A, T>,
    input: EndpointInput<Out<B>, Out<Q>, Out<P>>,
  ) => Promise<unknown>;
}

type Schemas = 'body' | 'query' | 'params' | 'response';

/**
 * An endpoint as declared: its schemas are functions that build them, called on first use (a request
 * that reaches the endpoint, the OpenAPI document), so importing a family builds none.
 */
export type EndpointDefinition<
  B extends Schema | undefined,
  Q extends Schema | undefined,
  P extends Schema | undefined,
  A extends AuthSpec,
  T extends TenantSource | undefined,
> = Omit<Endpoint<B, Q, P, A, T>, Schemas> & {
  readonly body?: () => B;
  readonly query?: () => Q;
  readonly params?: () => P;
  readonly response: Omit<Endpoint['response'], 'schema'> & { readonly schema?: () => Schema };
};

/**
 * Declares an endpoint (generic so TypeScript infers the input types from its schemas). The endpoint's
 * `body`, `query`, `params` and `response.schema` are built by their functions when first read, once.
 */
export function defineEndpoint<
  B extends Schema | undefined = undefined,
  Q extends Schema | undefined = undefined,
  P extends Schema | undefined = undefined,
  const A extends AuthSpec = AuthSpec,
  const T extends TenantSource | undefined = undefined,
>(definition: EndpointDefinition<B, Q, P, A, T>): Endpoint {
  const { body, query, params, response, ...rest } = definition;
  const endpoint = { ...rest, response: { status: response.status, description: response.description } };
  const builtOnFirstUse = (target: object, key: string, build: (() => unknown) | undefined) => {
    if (build) Object.defineProperty(target, key, { get: lazy(build), enumerable: true });
  };
  builtOnFirstUse(endpoint, 'body', body);
  builtOnFirstUse(endpoint, 'query', query);
  builtOnFirstUse(endpoint, 'params', params);
  builtOnFirstUse(endpoint.response, 'schema', response.schema);
  return endpoint as unknown as Endpoint;
}
