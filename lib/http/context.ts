import type { App } from '../app.js';
import type { Actor, Caller } from '../auth/caller.js';
import type { PresentedCredential } from '../auth/credentials.js';
import type { Db } from '../db/database.js';
import type { Throttle } from '../ratelimit/throttle.js';
import type { HeaderReader } from './exchange.js';

/** The one typed context built per request and handed to every handler. */
export interface RequestContext extends Throttle {
  readonly app: App;
  readonly db: Db;
  readonly requestId: string;
  /** The request's headers (the few handlers that read one: User-Agent, Idempotency-Key). */
  readonly headers: HeaderReader;
  readonly url: URL;
  /** The client IP (normalised), or null when the platform did not tell us. */
  readonly ip: string | null;
  readonly caller: Caller;
  /**
   * The tenant this request acts on, resolved once by the pipeline from the endpoint's declaration and
   * the credential (lib/http/endpoint.ts TenantSource); null for platform-level requests.
   */
  readonly tenantId: string | null;
  /** The caller as the audit log records it. */
  readonly actor: Actor;
  /** The credential as presented, for the few anonymous endpoints that read one (refresh). */
  readonly credential: PresentedCredential | null;
  now(): Date;
}
