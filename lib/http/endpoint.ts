import type { z } from 'zod';
import type { AuthSpec } from '../auth/caller.js';
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

type Schema = z.ZodType;
type Out<S> = S extends z.ZodType ? z.output<S> : undefined;

export interface Endpoint<
  B extends Schema | undefined = Schema | undefined,
  Q extends Schema | undefined = Schema | undefined,
  P extends Schema | undefined = Schema | undefined,
> {
  readonly method: Method;
  /** OpenAPI-style path under /v1 (or /api, /.well-known), e.g. `/v1/tenants/{tenantId}`. */
  readonly path: string;
  readonly summary: string;
  readonly tags: readonly string[];
  readonly auth: AuthSpec;
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
  readonly handler: (ctx: RequestContext, input: EndpointInput<Out<B>, Out<Q>, Out<P>>) => Promise<unknown>;
}

/** Declares an endpoint; the identity function exists so TypeScript infers the input types. */
export function defineEndpoint<
  B extends Schema | undefined = undefined,
  Q extends Schema | undefined = undefined,
  P extends Schema | undefined = undefined,
>(endpoint: Endpoint<B, Q, P>): Endpoint {
  return endpoint as unknown as Endpoint;
}
