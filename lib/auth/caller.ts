import type { LiveSession } from '../identity/session.repository.js';
import type { Role, Scope, Tier } from '../vocabulary.js';
import type { Freshness } from './verified-cache.js';

export type { Role, Scope };

/** Who is calling, once their credential has been verified. */
export type Caller =
  | { readonly kind: 'anonymous' }
  /** The shared admin secret; `keyId` is a fingerprint of it, never the secret. */
  | { readonly kind: 'admin_key'; readonly keyId: string }
  | {
      readonly kind: 'api_key';
      readonly keyId: string;
      readonly tenantId: string;
      readonly tier: Tier;
      readonly scopes: readonly Scope[];
      /** What the verification rested on; the pipeline confirms it with the key's rate-limit call. */
      readonly freshness?: Freshness | null;
    }
  | {
      readonly kind: 'person';
      readonly userId: string;
      readonly tenantId: string;
      readonly role: Role;
      readonly sessionId: string;
      /** The row the live-session check read (person and tenant included): handlers need not read them again. */
      readonly session: LiveSession;
      /** What the check rested on (a cached row, or one read now); confirmed with the rate-limit call. */
      readonly freshness?: Freshness;
    };

/** The admin key, or an internal-tier API key carrying the `admin` scope (API.md §1). */
export function isAdmin(caller: Caller): boolean {
  return (
    caller.kind === 'admin_key' ||
    (caller.kind === 'api_key' && caller.tier === 'internal' && caller.scopes.includes('admin'))
  );
}

/** The tenant a non-admin caller belongs to. */
export function callerTenantId(caller: Caller): string | null {
  return caller.kind === 'api_key' || caller.kind === 'person' ? caller.tenantId : null;
}

/** One string per verified caller, distinct across kinds, for limits counted per caller. */
export function callerKey(caller: Caller): string {
  switch (caller.kind) {
    case 'admin_key':
    case 'api_key':
      return `${caller.kind}:${caller.keyId}`;
    case 'person':
      return `user:${caller.userId}`;
    case 'anonymous':
      return 'anonymous';
  }
}

/** How an action is attributed in the audit log. */
export interface Actor {
  readonly type: 'admin_key' | 'api_key' | 'user' | 'anonymous' | 'system';
  readonly id: string | null;
  readonly ip: string | null;
  readonly requestId: string | null;
}

export function actorOf(caller: Caller, ip: string | null, requestId: string | null): Actor {
  switch (caller.kind) {
    case 'admin_key':
      return { type: 'admin_key', id: caller.keyId, ip, requestId };
    case 'api_key':
      return { type: 'api_key', id: caller.keyId, ip, requestId };
    case 'person':
      return { type: 'user', id: caller.userId, ip, requestId };
    case 'anonymous':
      return { type: 'anonymous', id: null, ip, requestId };
  }
}

/**
 * Who may call an endpoint. `admin` admits the admin key and internal keys with the `admin` scope;
 * `apiKey` admits tenant API keys carrying every listed scope; `person` admits logged-in people with
 * one of the listed roles (any role when omitted). Endpoints with a `{tenantId}` path parameter only
 * ever admit non-admin callers of that tenant (others get 404).
 */
export type AuthSpec =
  | 'none'
  | {
      readonly admin?: true;
      readonly apiKey?: { readonly scopes: readonly Scope[] };
      readonly person?: { readonly roles?: readonly Role[] };
    };
