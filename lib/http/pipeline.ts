import { randomBytes } from 'node:crypto';
import type { z } from 'zod';
import type { App } from '../app.js';
import { authenticate } from '../auth/authenticate.js';
import { authorize } from '../auth/authorize.js';
import { actorOf, type Caller, callerKey, callerTenantId, isAdmin } from '../auth/caller.js';
import {
  assertNoCredentialsInUrl,
  extractCredential,
  type PresentedCredential,
} from '../auth/credentials.js';
import { isDatabaseUnavailable } from '../db/errors.js';
import { AppError, AuthenticationError, NotFoundError, ValidationError } from '../errors.js';
import { addressKey } from '../ratelimit/address-key.js';
import type { RateLimitPolicy, RateLimitResult } from '../ratelimit/limiter.js';
import { RateLimiterUnavailableError } from '../ratelimit/limiter.js';
import { policies } from '../ratelimit/policies.js';
import { RateLimitedError } from '../ratelimit/rate-limited-error.js';
import { readJsonBody } from './body.js';
import { clientIp } from './client-ip.js';
import type { RequestContext } from './context.js';
import { corsHeaders, preflightHeaders } from './cors.js';
import { type Endpoint, Reply } from './endpoint.js';
import { problemFromError, problemResponse } from './problem.js';
import { rateLimitHeaders, secondsUntilReset } from './rate-limit-headers.js';
import type { Router } from './router.js';
import { zodFieldErrors } from './validation.js';

const newRequestId = () => `req_${randomBytes(12).toString('base64url')}`;

/** The response headers every answer carries. */
function baseHeaders(requestId: string): Record<string, string> {
  return {
    'x-request-id': requestId,
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
  };
}

/** Rate-limit outcomes seen during a request; the tightest one is reported in the headers. */
class LimitTracker {
  private tightest: { policy: RateLimitPolicy; result: RateLimitResult } | null = null;
  record(policy: RateLimitPolicy, result: RateLimitResult): void {
    if (!this.tightest || result.remaining < this.tightest.result.remaining)
      this.tightest = { policy, result };
  }
  headers(nowMs: number): Record<string, string> {
    return this.tightest ? rateLimitHeaders(this.tightest.policy, this.tightest.result, nowMs) : {};
  }
}

/** The limit a verified caller's own requests count against. */
function callerPolicy(caller: Caller): { policy: RateLimitPolicy; identifier: string } | null {
  switch (caller.kind) {
    case 'admin_key':
      return { policy: policies.admin, identifier: caller.keyId };
    case 'api_key':
      return { policy: policies.tier[caller.tier], identifier: caller.keyId };
    case 'person':
      return { policy: policies.person, identifier: caller.userId };
    case 'anonymous':
      return null;
  }
}

function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, where: 'body' | 'query'): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success)
    throw new ValidationError(zodFieldErrors(result.error, where === 'query' ? 'query' : ''));
  return result.data;
}

/**
 * Runs one request through the fixed order of checks: credentials in the URL, route, credential
 * extraction and verification, tenant isolation, authorisation, rate limit, input validation, the
 * handler, and error rendering. No handler repeats any of these.
 */
export async function handleRequest(app: App, router: Router, request: Request): Promise<Response> {
  const requestId = newRequestId();
  const started = app.now().getTime();
  const limits = new LimitTracker();
  const origin = request.headers.get('origin');
  const headers = () => ({
    ...baseHeaders(requestId),
    ...corsHeaders(origin, app.config.corsOrigins),
    ...limits.headers(app.now().getTime()),
  });
  let url: URL;
  try {
    url = new URL(request.url);
  } catch {
    return finish(problemResponse({ code: 'invalid_request', requestId }), headers());
  }
  try {
    assertNoCredentialsInUrl(url);
    const method = request.method === 'HEAD' ? 'GET' : request.method;
    const match = router.match(method, url.pathname);
    if (request.method === 'OPTIONS' && match.kind !== 'not_found') {
      const allowed = allowedMethods(router, url.pathname);
      return finish(new Response(null, { status: 204, headers: { allow: allowed.join(', ') } }), {
        ...headers(),
        ...preflightHeaders(origin, app.config.corsOrigins, allowed),
      });
    }
    if (match.kind === 'not_found') throw new NotFoundError('No such endpoint.');
    if (match.kind === 'wrong_method') {
      return finish(problemResponse({ code: 'method_not_allowed', requestId }), {
        ...headers(),
        allow: allowedMethods(router, url.pathname).join(', '),
      });
    }
    const { endpoint } = match;
    const ip = clientIp(request.headers);
    const credential = extractCredential(request.headers);
    const ctx = buildContext(app, request, url, requestId, ip, credential, limits);
    const caller = await identify(ctx, endpoint, credential);
    const authed: RequestContext = { ...ctx, caller, actor: actorOf(caller, ip, requestId) };

    const params = parseParams(endpoint, match.params);
    // Before the role and scope checks: another tenant's endpoint is a 404 whatever the caller's role.
    enforceTenantIsolation(caller, params);
    if (endpoint.auth !== 'none') authorize(endpoint.auth, caller);
    const own = callerPolicy(caller);
    if (own) await authed.rateLimit(own.policy, own.identifier);
    await countEndpointLimits(authed, endpoint, params);

    const query = endpoint.query
      ? parseOrThrow(endpoint.query, Object.fromEntries(url.searchParams), 'query')
      : undefined;
    const body = endpoint.body ? parseOrThrow(endpoint.body, await readJsonBody(request), 'body') : undefined;
    const byBody = endpoint.rateLimit?.byBody;
    if (byBody) await authed.rateLimit(byBody.policy, byBody.key(body));
    const result = await endpoint.handler(authed, { body, query, params });
    const response = render(endpoint, result);
    app.log.debug('request', {
      requestId,
      method,
      path: url.pathname,
      status: response.status,
      ms: app.now().getTime() - started,
    });
    return finish(request.method === 'HEAD' ? new Response(null, response) : response, headers());
  } catch (error) {
    return finish(errorResponse(app, error, requestId, request, url), headers());
  }
}

/**
 * Answers a request that cannot become a Fetch `Request` or reach a method handler — a method the
 * Fetch API forbids (`CONNECT`, `TRACE`, `TRACK`) or one the function file does not export — exactly
 * as handleRequest answers any other method a path does not serve: `405 method_not_allowed` with
 * `Allow` on a known path, `404 not_found` on an unknown one. Used by the local server.
 */
export function refuseMethod(app: App, router: Router, url: URL, origin: string | null): Response {
  const requestId = newRequestId();
  const headers = { ...baseHeaders(requestId), ...corsHeaders(origin, app.config.corsOrigins) };
  const allowed = allowedMethods(router, url.pathname);
  if (!allowed.some((method) => router.match(method, url.pathname).kind === 'found'))
    return finish(problemResponse({ code: 'not_found', requestId }), headers);
  return finish(problemResponse({ code: 'method_not_allowed', requestId }), {
    ...headers,
    allow: allowed.join(', '),
  });
}

/** A problem for a request that never reached a route (an unparseable request line), with the usual headers. */
export function bareProblem(code: 'invalid_request'): Response {
  const requestId = newRequestId();
  return finish(problemResponse({ code, requestId }), baseHeaders(requestId));
}

function buildContext(
  app: App,
  request: Request,
  url: URL,
  requestId: string,
  ip: string | null,
  credential: PresentedCredential | null,
  limits: LimitTracker,
): RequestContext {
  const caller: Caller = { kind: 'anonymous' };
  return {
    app,
    db: app.db,
    requestId,
    request,
    url,
    ip,
    caller,
    actor: actorOf(caller, ip, requestId),
    credential,
    now: () => app.now(),
    async rateLimit(policy, identifier, cost = 1) {
      const result = await app.limiter.limit(policy, identifier, cost);
      limits.record(policy, result);
      if (!result.allowed) throw new RateLimitedError(policy, result);
      return result;
    },
    async checkRateLimit(policy, identifier) {
      const result = await app.limiter.peek(policy, identifier);
      limits.record(policy, result);
      if (!result.allowed) throw new RateLimitedError(policy, result);
      return result;
    },
  };
}

/**
 * Verifies the credential an endpoint needs (authorisation comes after tenant isolation, in
 * handleRequest). A credential that fails counts against the client IP's failure budget (never against
 * the key or account it named); past that budget the answer is 429.
 */
async function identify(
  ctx: RequestContext,
  endpoint: Endpoint,
  credential: PresentedCredential | null,
): Promise<Caller> {
  if (endpoint.auth === 'none') return { kind: 'anonymous' };
  if (!credential)
    throw new AuthenticationError('missing_credentials', 'Send an API key, a bearer token or an admin key.');
  let caller: Caller;
  try {
    caller = await authenticate(ctx.app, credential);
  } catch (error) {
    if (error instanceof AuthenticationError) {
      await ctx.rateLimit(policies.authFailuresByIp, addressKey(ctx.ip));
    }
    throw error;
  }
  return caller;
}

/**
 * The endpoint's declared extra limits that need no body: per client address, per caller and per
 * tenant. Counted before the input is read, so every request that got this far costs the same
 * whether it then succeeds or is refused (a 409 that reveals an existing email included).
 */
async function countEndpointLimits(ctx: RequestContext, endpoint: Endpoint, params: unknown): Promise<void> {
  const limits = endpoint.rateLimit;
  if (!limits) return;
  if (limits.byIp) await ctx.rateLimit(limits.byIp, addressKey(ctx.ip));
  if (limits.byCaller) await ctx.rateLimit(limits.byCaller, callerKey(ctx.caller));
  if (limits.byTenant) {
    const routeTenant = (params as { tenantId?: unknown } | undefined)?.tenantId;
    const tenantId = typeof routeTenant === 'string' ? routeTenant : callerTenantId(ctx.caller);
    if (tenantId) await ctx.rateLimit(limits.byTenant, tenantId);
  }
}

function parseParams(endpoint: Endpoint, raw: Record<string, string>): unknown {
  if (!endpoint.params) return raw;
  const result = endpoint.params.safeParse(raw);
  // A malformed id names no resource: 404, like any other id that does not exist.
  if (!result.success) throw new NotFoundError();
  return result.data;
}

/** Another tenant's resource is a 404, exactly like a missing one. */
function enforceTenantIsolation(caller: Caller, params: unknown): void {
  const tenantId = (params as { tenantId?: unknown } | undefined)?.tenantId;
  if (typeof tenantId !== 'string' || isAdmin(caller)) return;
  if (callerTenantId(caller) !== tenantId) throw new NotFoundError();
}

function allowedMethods(router: Router, pathname: string): string[] {
  const methods = new Set<string>();
  for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']) {
    if (router.match(method, pathname).kind === 'found') methods.add(method);
  }
  if (methods.has('GET')) methods.add('HEAD');
  methods.add('OPTIONS');
  return [...methods];
}

function render(endpoint: Endpoint, result: unknown): Response {
  const reply = result instanceof Reply ? result : new Reply(endpoint.response.status, result);
  if (reply.status === 204 || reply.body === undefined) {
    return new Response(null, { status: reply.status, headers: reply.headers });
  }
  return new Response(JSON.stringify(reply.body), {
    status: reply.status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...reply.headers },
  });
}

function errorResponse(
  app: App,
  error: unknown,
  requestId: string,
  request: Request,
  url: URL | undefined,
): Response {
  if (error instanceof RateLimitedError) {
    const retryAfter = secondsUntilReset(error.result, app.now().getTime());
    return problemFromError(error, requestId, { 'retry-after': String(retryAfter) });
  }
  if (error instanceof AppError) return problemFromError(error, requestId);
  if (error instanceof RateLimiterUnavailableError || isDatabaseUnavailable(error)) {
    app.log.error('dependency unavailable', { requestId, error });
    return problemResponse({ code: 'service_unavailable', requestId, headers: { 'retry-after': '5' } });
  }
  app.log.error('unhandled error', {
    requestId,
    method: request.method,
    path: url?.pathname,
    error,
  });
  return problemResponse({ code: 'internal_error', requestId });
}

function finish(response: Response, headers: Record<string, string>): Response {
  for (const [name, value] of Object.entries(headers)) {
    if (!response.headers.has(name)) response.headers.set(name, value);
  }
  return response;
}
