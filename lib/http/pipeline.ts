import { randomFillSync } from 'node:crypto';
import type { z } from 'zod';
import type { App } from '../app.js';
import { authenticate } from '../auth/authenticate.js';
import { authorize } from '../auth/authorize.js';
import { type Actor, actorOf, type Caller, callerKey, callerTenantId, isAdmin } from '../auth/caller.js';
import {
  assertNoCredentialsInUrl,
  extractCredential,
  type PresentedCredential,
} from '../auth/credentials.js';
import type { Freshness, Reload } from '../auth/verified-cache.js';
import type { Db } from '../db/database.js';
import { isDatabaseUnavailable } from '../db/errors.js';
import { AppError, AuthenticationError, errorCatalog, NotFoundError, ValidationError } from '../errors.js';
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
import { type Answer, type HeaderReader, type Incoming, incomingOf, responseOf } from './exchange.js';
import { problemAnswer, problemFromError } from './problem.js';
import { rateLimitHeaders, secondsUntilReset } from './rate-limit-headers.js';
import type { Router } from './router.js';
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
  addHeaders(headers: Record<string, string>, app: App): Record<string, string> {
    return this.tightest
      ? Object.assign(
          headers,
          rateLimitHeaders(this.tightest.policy, this.tightest.result, app.now().getTime()),
        )
      : headers;
  }
}

/**
 * The context handed to services and the handler: one object per request, its methods on the class
 * (no closures made per request). The pipeline sets `caller`, `tenantId` and `actor` once the caller
 * is verified, before the handler runs.
 */
class Context implements RequestContext {
  readonly db: Db;
  caller: Caller = ANONYMOUS;
  tenantId: string | null = null;
  actor: Actor;
  constructor(
    readonly app: App,
    readonly requestId: string,
    readonly headers: HeaderReader,
    readonly url: URL,
    readonly ip: string | null,
    readonly credential: PresentedCredential | null,
    readonly limits: LimitTracker,
  ) {
    this.db = app.db;
    this.actor = actorOf(ANONYMOUS, ip, requestId);
  }
  now(): Date {
    return this.app.now();
  }
  async rateLimit(policy: RateLimitPolicy, identifier: string, cost = 1): Promise<RateLimitResult> {
    const result = await this.app.limiter.limit(policy, identifier, cost);
    this.limits.record(policy, result);
    if (!result.allowed) throw new RateLimitedError(policy, result);
    return result;
  }
  async checkRateLimit(policy: RateLimitPolicy, identifier: string): Promise<RateLimitResult> {
    const result = await this.app.limiter.peek(policy, identifier);
    this.limits.record(policy, result);
    if (!result.allowed) throw new RateLimitedError(policy, result);
    return result;
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
 * A function's Web handler (lib/http/mount.ts, and every test): the Request read through
 * `incomingOf`, the answer made a Response. The work is `answerRequest`'s, which the local server
 * calls with node:http's request directly (scripts/node-exchange.ts).
 */
export async function handleRequest(app: App, router: Router, request: Request): Promise<Response> {
  let url: URL;
  try {
    url = new URL(request.url);
  } catch {
    const origin = request.headers.get('origin');
    return responseOf(withHeaders(invalidRequest(), corsHeaders(origin, app.config.corsOrigins)));
  }
  return responseOf(await answerRequest(app, router, incomingOf(request, url)));
}

/**
 * Runs one request through the fixed order of checks: credentials in the URL, route, credential
 * extraction and verification, tenant isolation, authorisation, rate limit, input validation, the
 * handler, and error rendering. No handler repeats any of these.
 */
export async function answerRequest(app: App, router: Router, request: Incoming): Promise<Answer> {
  const requestId = newRequestId();
  const debug = app.log.enabled('debug');
  const started = debug ? app.now().getTime() : 0;
  const limits = new LimitTracker();
  const origin = request.headers.get('origin');
  const ip = clientIp(request.headers);
  const url = request.url;
  let caller: Caller = ANONYMOUS;
  try {
    assertNoCredentialsInUrl(url);
    const method = request.method === 'HEAD' ? 'GET' : request.method;
    const match = router.match(method, url.pathname);
    if (request.method === 'OPTIONS' && match.kind !== 'not_found') {
      const allowed = allowedMethods(router, url.pathname);
      const headers = pipelineHeaders(app, requestId, origin, limits);
      Object.assign(headers, preflightHeaders(origin, app.config.corsOrigins, allowed));
      headers.allow = allowed.join(', ');
      return { status: 204, headers, body: null };
    }
    if (match.kind === 'not_found') throw new NotFoundError('No such endpoint.');
    if (match.kind === 'wrong_method') {
      const answer = problemAnswer({ code: 'method_not_allowed', requestId });
      answer.headers.allow = allowedMethods(router, url.pathname).join(', ');
      return withHeaders(answer, pipelineHeaders(app, requestId, origin, limits));
    }
    const { endpoint } = match;
    const credential = extractCredential(request.headers);
    const ctx = new Context(app, requestId, request.headers, url, ip, credential, limits);
    caller = await identify(ctx, endpoint, credential);
    const params = parseParams(endpoint, match.params);
    // Before the role and scope checks: another tenant's resource is a 404 whatever the caller's role.
    let tenant = await resolveTenant(ctx.db, endpoint, caller, params);
    if (endpoint.auth !== 'none') {
      try {
        authorize(endpoint.auth, caller);
      } catch (error) {
        // Scopes may have been widened since the instance cached the key: a refusal rests on Postgres.
        if (!isCached(caller) || !caller.freshness || caller.freshness.loaded) throw error;
        caller = await identify(ctx, endpoint, credential, true);
        tenant = await resolveTenant(ctx.db, endpoint, caller, params);
        authorize(endpoint.auth, caller);
      }
    }
    // The caller's quota is counted only now, after every check has passed: a refused request costs none.
    const own = callerPolicy(caller);
    if (own && isCached(caller) && caller.freshness) {
      // The key's or login's record may be the instance's cached one: its signal comes back with the count.
      const stale = await countCachedRequest(ctx, own, caller, caller.freshness);
      if (stale) {
        // A key's signal is named by its secret's hash, the key cache's id; a login's id is its session's.
        if (caller.kind === 'api_key') app.keyCache.delete(caller.freshness.signal);
        else app.sessionCache.delete(caller.sessionId);
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
    ctx.tenantId = tenantFor(endpoint, tenant, body, query);
    ctx.caller = caller;
    ctx.actor = actorOf(caller, ip, requestId);
    const result = await endpoint.handler(ctx as HandlerContext, { body, query, params });
    const answer = render(
      endpoint,
      result,
      pipelineHeaders(app, requestId, origin, limits),
      request.method === 'HEAD',
    );
    if (debug) {
      app.log.debug('request', {
        requestId,
        method,
        path: url.pathname,
        status: answer.status,
        ms: app.now().getTime() - started,
      });
    }
    return answer;
  } catch (error) {
    let answer = error;
    try {
      await chargeRefusal(app, limits, caller, ip, error);
    } catch (refused) {
      answer = refused;
    }
    return withHeaders(
      errorAnswer(app, answer, requestId, request.method, url),
      pipelineHeaders(app, requestId, origin, limits),
    );
  }
}

/** The pipeline's own headers for an answer (a new object, filled in place from then on). */
function pipelineHeaders(
  app: App,
  requestId: string,
  origin: string | null,
  limits: LimitTracker,
): Record<string, string> {
  const headers = baseHeaders(requestId);
  if (origin !== null) Object.assign(headers, corsHeaders(origin, app.config.corsOrigins));
  return limits.addHeaders(headers, app);
}

/**
 * Answers a request that cannot become a Fetch `Request` or reach a method handler — a method the
 * Fetch API forbids (`CONNECT`, `TRACE`, `TRACK`) or one the function file does not export — exactly
 * as handleRequest answers any other method a path does not serve: `405 method_not_allowed` with
 * `Allow` on a known path, `404 not_found` on an unknown one. Used by the local server.
 */
export function methodRefusal(app: App, router: Router, url: URL, origin: string | null): Answer {
  const requestId = newRequestId();
  const headers = { ...baseHeaders(requestId), ...corsHeaders(origin, app.config.corsOrigins) };
  const allowed = allowedMethods(router, url.pathname);
  if (!allowed.some((method) => router.match(method, url.pathname).kind === 'found'))
    return withHeaders(problemAnswer({ code: 'not_found', requestId }), headers);
  const answer = problemAnswer({ code: 'method_not_allowed', requestId });
  answer.headers.allow = allowed.join(', ');
  return withHeaders(answer, headers);
}

/** `methodRefusal` as a Web Response (the tests' client answers those methods as the local server does). */
export function refuseMethod(app: App, router: Router, url: URL, origin: string | null): Response {
  return responseOf(methodRefusal(app, router, url, origin));
}

/** A problem for a request that never reached a route (an unparseable request line or URL), with the usual headers. */
export function invalidRequest(): Answer {
  const requestId = newRequestId();
  return withHeaders(problemAnswer({ code: 'invalid_request', requestId }), baseHeaders(requestId));
}

/**
 * Counts a request whose caller may rest on a cached record (an API key or a login) against its quota
 * and, in the same round trip (both calls are issued in one turn, so the Upstash transport sends them
 * as one /pipeline request), reads the record's signal: a key's touch also counts its usage. Returns
 * null when the cached record is confirmed (or was loaded from Postgres during this request, after its
 * version was read); otherwise the pipeline re-verifies from Postgres before answering — also before
 * answering 429, so a revoked key or an ended login is a 401, not a 429.
 */
async function countCachedRequest(
  ctx: RequestContext,
  own: { policy: RateLimitPolicy; identifier: string },
  caller: CachedCaller,
  freshness: Freshness,
): Promise<{ rethrow(): void; signalDown: boolean } | null> {
  const [limit, seen] = await Promise.allSettled([
    ctx.rateLimit(own.policy, own.identifier),
    caller.kind === 'api_key'
      ? ctx.app.signals
          .touch(freshness.signal, caller.keyId, ctx.app.now().getTime(), addressKey(ctx.ip))
          .then((touched) => {
            noteKeyUse(ctx, caller, touched.newAddress);
            return touched.versions;
          })
      : ctx.app.signals.read(freshness.signal),
  ]);
  const rethrow = () => {
    if (limit.status === 'rejected') throw limit.reason;
  };
  const moved = seen.status === 'rejected' || seen.value !== freshness.versions;
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
/** Callers whose verification may come from the instance's cache (lib/auth/verified-cache.ts). */
type CachedCaller = Extract<Caller, { kind: 'api_key' | 'person' }>;
const isCached = (caller: Caller): caller is CachedCaller =>
  caller.kind === 'api_key' || caller.kind === 'person';
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
 * The handler's answer: the pipeline's own headers, then the handler's, which win where both set one.
 */
function render(endpoint: Endpoint, result: unknown, headers: Record<string, string>, head: boolean): Answer {
  const reply = result instanceof Reply ? result : new Reply(endpoint.response.status, result);
  const empty = reply.status === 204 || reply.body === undefined;
  // `headers` is this answer's own (made by answerRequest for it): filled in place.
  if (!empty) headers['content-type'] = 'application/json; charset=utf-8';
  // Lower-cased, so a handler's `Cache-Control` replaces ours instead of joining it.
  for (const name in reply.headers) headers[name.toLowerCase()] = reply.headers[name] as string;
  return { status: reply.status, headers, body: empty || head ? null : JSON.stringify(reply.body) };
}

function errorAnswer(app: App, error: unknown, requestId: string, method: string, url: URL): Answer {
  if (error instanceof RateLimitedError) {
    const retryAfter = secondsUntilReset(error.result, app.now().getTime());
    return problemFromError(error, requestId, { 'retry-after': String(retryAfter) });
  }
  if (error instanceof AppError) return problemFromError(error, requestId);
  if (error instanceof RateLimiterUnavailableError || isDatabaseUnavailable(error)) {
    app.log.error('dependency unavailable', { requestId, error });
    return problemAnswer({ code: 'service_unavailable', requestId, headers: { 'retry-after': '5' } });
  }
  app.log.error('unhandled error', { requestId, method, path: url.pathname, error });
  return problemAnswer({ code: 'internal_error', requestId });
}

/** Adds `headers` to an answer's own, where it sets none of that name (its own win). */
function withHeaders(answer: Answer, headers: Record<string, string>): Answer {
  for (const name in headers) if (!(name in answer.headers)) answer.headers[name] = headers[name] as string;
  return answer;
}
