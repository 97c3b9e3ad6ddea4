import { randomFillSync } from 'node:crypto';
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
import type { Db } from '../db/database.js';
import { isDatabaseUnavailable } from '../db/errors.js';
import { AppError, AuthenticationError, errorCatalog, NotFoundError, ValidationError } from '../errors.js';
import type { KeyFreshness, Reload } from '../keys/key-cache.js';
import { addressKey } from '../ratelimit/address-key.js';
import type { RateLimitPolicy, RateLimitResult } from '../ratelimit/limiter.js';
import { RateLimiterUnavailableError } from '../ratelimit/limiter.js';
import { policies } from '../ratelimit/policies.js';
import { RateLimitedError } from '../ratelimit/rate-limited-error.js';
import { readJsonBody } from './body.js';
import { clientIp } from './client-ip.js';
import type { RequestContext } from './context.js';
import { corsHeaders, preflightHeaders } from './cors.js';
import { type Endpoint, type HandlerContext, Reply } from './endpoint.js';
import { problemFromError, problemResponse } from './problem.js';
import { rateLimitHeaders, secondsUntilReset } from './rate-limit-headers.js';
import type { Router } from './router.js';
import { textResponse } from './text-response.js';
import { zodFieldErrors } from './validation.js';

/**
 * `req_` and 12 random bytes (base64url). The bytes come from a pool refilled 256 ids at a time: one
 * call into the CSPRNG per request cost more than the rest of the id (as crypto.randomUUID pools too).
 */
const ID_BYTES = 12;
const idPool = Buffer.alloc(ID_BYTES * 256);
let idOffset = idPool.length;
function newRequestId(): string {
  if (idOffset === idPool.length) {
    randomFillSync(idPool);
    idOffset = 0;
  }
  const id = `req_${idPool.toString('base64url', idOffset, idOffset + ID_BYTES)}`;
  idOffset += ID_BYTES;
  return id;
}

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
  /** Adds the tightest outcome's headers to `headers` (none when no limit was counted). */
  addHeaders(headers: Record<string, string>, nowMs: number): Record<string, string> {
    return this.tightest
      ? Object.assign(headers, rateLimitHeaders(this.tightest.policy, this.tightest.result, nowMs))
      : headers;
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
  // A new object each time, built in place (the answer's headers are filled from it once).
  const headers = (): Record<string, string> => {
    const all = baseHeaders(requestId);
    if (origin !== null) Object.assign(all, corsHeaders(origin, app.config.corsOrigins));
    return limits.addHeaders(all, app.now().getTime());
  };
  const ip = clientIp(request.headers);
  let caller: Caller = ANONYMOUS;
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
    const credential = extractCredential(request.headers);
    const ctx = buildContext(app, request, url, requestId, ip, credential, limits);
    caller = await identify(ctx, endpoint, credential);
    const params = parseParams(endpoint, match.params);
    // Before the role and scope checks: another tenant's resource is a 404 whatever the caller's role.
    let tenant = await resolveTenant(ctx.db, endpoint, caller, params);
    if (endpoint.auth !== 'none') {
      try {
        authorize(endpoint.auth, caller);
      } catch (error) {
        // Scopes may have been widened since the instance cached the key: a refusal rests on Postgres.
        if (caller.kind !== 'api_key' || !caller.freshness || caller.freshness.loaded) throw error;
        caller = await identify(ctx, endpoint, credential, true);
        tenant = await resolveTenant(ctx.db, endpoint, caller, params);
        authorize(endpoint.auth, caller);
      }
    }
    // The caller's quota is counted only now, after every check has passed: a refused request costs none.
    const own = callerPolicy(caller);
    if (own && caller.kind === 'api_key' && caller.freshness) {
      // The key's record may be the instance's cached one: its signal comes back with the count.
      const stale = await countKeyRequest(ctx, own, caller, caller.freshness);
      if (stale) {
        app.keyCache.delete(caller.freshness.hash);
        caller = await identify(ctx, endpoint, credential, stale.signalDown ? 'signal-down' : true);
        tenant = await resolveTenant(ctx.db, endpoint, caller, params);
        if (endpoint.auth !== 'none') authorize(endpoint.auth, caller);
      }
      stale?.rethrow();
    } else if (own) await ctx.rateLimit(own.policy, own.identifier);
    await countEndpointLimits(ctx, endpoint, caller, typeof tenant === 'string' ? tenant : null);

    const query = endpoint.query
      ? parseOrThrow(endpoint.query, Object.fromEntries(url.searchParams), 'query')
      : undefined;
    const body = endpoint.body ? parseOrThrow(endpoint.body, await readJsonBody(request), 'body') : undefined;
    const byBody = endpoint.rateLimit?.byBody;
    if (byBody) await ctx.rateLimit(byBody.policy, byBody.key(body));
    const tenantId = tenantFor(endpoint, tenant, body, query);
    const authed = { ...ctx, caller, tenantId, actor: actorOf(caller, ip, requestId) };
    const result = await endpoint.handler(authed as HandlerContext, { body, query, params });
    const response = render(endpoint, result, headers(), request.method === 'HEAD');
    app.log.debug('request', {
      requestId,
      method,
      path: url.pathname,
      status: response.status,
      ms: app.now().getTime() - started,
    });
    return response;
  } catch (error) {
    let answer = error;
    try {
      await chargeRefusal(app, limits, caller, ip, error);
    } catch (refused) {
      answer = refused;
    }
    return finish(errorResponse(app, answer, requestId, request, url), headers());
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
  const caller: Caller = ANONYMOUS;
  return {
    app,
    tenantId: null,
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
 * Counts a key-authenticated request against its tier and, in the same round trip (both calls are
 * issued in one tick, so Upstash auto-pipelining sends them as one request), counts its usage and reads
 * its revocation signal. Returns null when the cached record is confirmed (or was loaded from Postgres
 * during this request, after its version was read); otherwise the pipeline re-verifies from Postgres
 * before answering — also before answering 429, so a revoked key is a 401, not a 429.
 */
async function countKeyRequest(
  ctx: RequestContext,
  own: { policy: RateLimitPolicy; identifier: string },
  key: ApiKeyCaller,
  freshness: KeyFreshness,
): Promise<{ rethrow(): void; signalDown: boolean } | null> {
  const [limit, seen] = await Promise.allSettled([
    ctx.rateLimit(own.policy, own.identifier),
    ctx.app.signals.touch(freshness.hash, key.keyId, ctx.app.now().getTime(), addressKey(ctx.ip)),
  ]);
  if (seen.status === 'fulfilled') noteKeyUse(ctx, key, seen.value.newAddress);
  const rethrow = () => {
    if (limit.status === 'rejected') throw limit.reason;
  };
  const moved = seen.status === 'rejected' || seen.value.versions !== freshness.versions;
  // A cached record stands only on a confirmed signal (none: Redis is down, so Postgres decides).
  // One loaded during this request stands unless the signal moved since it was read: a change may
  // then have raced the lookup.
  const stale = freshness.loaded
    ? seen.status === 'fulfilled' && freshness.versions !== null && moved
    : freshness.versions === null || moved;
  if (!stale) {
    rethrow();
    return null;
  }
  return { rethrow, signalDown: seen.status === 'rejected' };
}

/** last_used_* and anomalies, after the response (lib/keys/key-usage.ts); debounced per key. */
function noteKeyUse(ctx: RequestContext, key: ApiKeyCaller, newAddress: boolean): void {
  const app = ctx.app;
  const pending = app.keyUse.note(app, {
    keyId: key.keyId,
    tenantId: key.tenantId,
    tier: key.tier,
    ip: ctx.ip,
    at: app.now(),
    newAddress,
  });
  if (pending) app.defer(pending);
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
  fresh: Reload = false,
): Promise<Caller> {
  if (endpoint.auth === 'none') return ANONYMOUS;
  if (!credential)
    throw new AuthenticationError('missing_credentials', 'Send an API key, a bearer token or an admin key.');
  let caller: Caller;
  try {
    caller = await authenticate(ctx.app, credential, ctx.ip, fresh);
  } catch (error) {
    if (error instanceof AuthenticationError && error.countsAsFailure) {
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
async function countEndpointLimits(
  ctx: RequestContext,
  endpoint: Endpoint,
  caller: Caller,
  tenant: string | null,
): Promise<void> {
  const limits = endpoint.rateLimit;
  if (!limits) return;
  if (limits.byIp) await ctx.rateLimit(limits.byIp, addressKey(ctx.ip));
  if (limits.byCaller) await ctx.rateLimit(limits.byCaller, callerKey(caller));
  if (limits.byTenant) {
    const tenantId = tenant ?? callerTenantId(caller);
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

const ANONYMOUS: Caller = { kind: 'anonymous' };
type ApiKeyCaller = Extract<Caller, { kind: 'api_key' }>;
/** Marks a request whose tenant an admin names in the body or query (read after validation). */
const CHOSEN_BY_ADMIN = Symbol('chosen by admin');

/**
 * The tenant the request acts on (lib/http/endpoint.ts TenantSource), and tenant isolation: for every
 * caller but admins, a resource of another tenant is a 404, exactly like a missing one, and that is
 * decided here, before any role or scope check.
 */
async function resolveTenant(
  db: Db,
  endpoint: Endpoint,
  caller: Caller,
  params: unknown,
): Promise<string | null | typeof CHOSEN_BY_ADMIN> {
  const own = callerTenantId(caller);
  const admin = isAdmin(caller);
  const pathTenant = (params as { tenantId?: unknown } | undefined)?.tenantId;
  const source = endpoint.tenant ?? (typeof pathTenant === 'string' ? 'path' : undefined);
  if (source === undefined) return admin ? null : own;
  if (source === 'caller') return admin ? CHOSEN_BY_ADMIN : own;
  let tenant: string | undefined;
  if (source === 'path') {
    tenant = typeof pathTenant === 'string' ? pathTenant : undefined;
  } else {
    const id = (params as Record<string, unknown> | undefined)?.[source.ownerOf];
    tenant = typeof id === 'string' ? await source.lookup(db, id) : undefined;
  }
  if (tenant === undefined || (!admin && tenant !== own)) throw new NotFoundError();
  return tenant;
}

/**
 * The tenant of a `tenant: 'caller'` endpoint after validation: an admin must name it with `tenant_id`
 * (body or query); any other caller acts on its own tenant and may not send `tenant_id` at all.
 */
function tenantFor(
  endpoint: Endpoint,
  resolved: string | null | typeof CHOSEN_BY_ADMIN,
  body: unknown,
  query: unknown,
): string | null {
  if (endpoint.tenant !== 'caller') return resolved === CHOSEN_BY_ADMIN ? null : resolved;
  const fromBody = (body as { tenant_id?: unknown } | undefined)?.tenant_id;
  const fromQuery = (query as { tenant_id?: unknown } | undefined)?.tenant_id;
  const path = fromBody !== undefined || !endpoint.query ? 'tenant_id' : 'query.tenant_id';
  const chosen = fromBody ?? fromQuery;
  if (resolved !== CHOSEN_BY_ADMIN) {
    if (chosen === undefined) return resolved;
    throw new ValidationError([
      { path, message: 'Only admin credentials name a tenant; yours acts on its own.' },
    ]);
  }
  if (typeof chosen === 'string') return chosen;
  throw new ValidationError([
    { path, message: 'Admin credentials act on no tenant of their own: name one with tenant_id.' },
  ]);
}

/**
 * Refused requests (403, 404) count against a budget of their own (policy `refusals`): per verified
 * caller, per IP for callers without one. Past it the answer is 429, so probing other tenants' ids or
 * forbidden endpoints ends, while the caller's own quota is untouched. Only the 429 reports the budget
 * in its headers: a refusal's headers stay the same whatever the budget.
 */
async function chargeRefusal(
  app: App,
  limits: LimitTracker,
  caller: Caller,
  ip: string | null,
  error: unknown,
): Promise<void> {
  if (!(error instanceof AppError) || ![403, 404].includes(errorCatalog[error.code].status)) return;
  const identifier = refusalIdentity(caller) ?? `ip:${addressKey(ip)}`;
  const result = await app.limiter.limit(policies.refusals, identifier);
  if (!result.allowed) {
    limits.record(policies.refusals, result);
    throw new RateLimitedError(policies.refusals, result, 'Too many refused requests; retry later.');
  }
}

function refusalIdentity(caller: Caller): string | null {
  switch (caller.kind) {
    case 'admin_key':
      return `admin:${caller.keyId}`;
    case 'api_key':
      return `key:${caller.keyId}`;
    case 'person':
      return `user:${caller.userId}`;
    case 'anonymous':
      return null;
  }
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

/**
 * The handler's answer with every header at once (one Headers fill, not a get and a set per header
 * afterwards): the pipeline's own headers, then the handler's, which win where both set one.
 */
function render(
  endpoint: Endpoint,
  result: unknown,
  headers: Record<string, string>,
  head: boolean,
): Response {
  const reply = result instanceof Reply ? result : new Reply(endpoint.response.status, result);
  const empty = reply.status === 204 || reply.body === undefined;
  // `headers` is this answer's own (made by handleRequest for it): filled in place.
  if (!empty) headers['content-type'] = 'application/json; charset=utf-8';
  // Lower-cased, so a handler's `Cache-Control` replaces ours instead of joining it.
  for (const [name, value] of Object.entries(reply.headers)) headers[name.toLowerCase()] = value;
  if (empty || head) return new Response(null, { status: reply.status, headers });
  return textResponse(JSON.stringify(reply.body), { status: reply.status, headers });
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
