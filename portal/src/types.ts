/** The API's objects as the portal reads them (docs/API.md §4 and §5). */
import type { KeyStatus, Role, Scope, Tier } from '../../lib/vocabulary.js';

export interface ApiKey {
  readonly id: string;
  readonly name: string;
  readonly tier: Tier;
  readonly prefix: string;
  readonly last4: string;
  readonly scopes: Scope[];
  readonly ip_whitelist: string[];
  readonly created_at: string;
  readonly expires_at: string | null;
  readonly last_used_at: string | null;
  readonly last_used_ip: string | null;
  readonly revoked_at: string | null;
  readonly previous_secret_expires_at: string | null;
  readonly status: KeyStatus;
  readonly rate_limit: { readonly limit: number; readonly window_seconds: number };
  /** Only in the answers of create and rotate. */
  readonly key?: string;
}

export interface Page<T> {
  readonly data: T[];
  readonly next_cursor: string | null;
}

export interface Usage {
  readonly key_id: string;
  readonly windows: { readonly start: string; readonly requests: number; readonly limited: number }[];
  readonly last_used_at: string | null;
  readonly last_used_ip: string | null;
}

export interface Member {
  readonly id: string;
  readonly email: string;
  readonly name: string;
  readonly role: Role;
  readonly status: 'active' | 'disabled';
  readonly created_at: string;
  readonly last_login_at: string | null;
  readonly password_change_required: boolean;
}

export interface AuditEvent {
  readonly id: string;
  readonly action: string;
  readonly actor: { readonly type: string; readonly id: string | null };
  readonly target: { readonly type: string; readonly id: string } | null;
  readonly ip: string | null;
  readonly created_at: string;
  readonly metadata: Record<string, unknown> | null;
}
