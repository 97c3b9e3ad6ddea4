import type { ColumnType } from 'kysely';
import type { ActorType, Role, Scope, Tier } from '../vocabulary.js';

/**
 * Every column of schema.sql, as data. The Kysely types below are derived from this object, and a test
 * compares it with the live database's information_schema, so the types cannot drift from schema.sql.
 * `default: true` marks columns the database fills when an insert leaves them out (nullable ones may
 * be left out too).
 */
interface ColumnSpec {
  readonly type: 'uuid' | 'text' | 'text[]' | 'integer' | 'boolean' | 'timestamptz' | 'jsonb';
  readonly nullable?: true;
  readonly default?: true;
}

export const tables = {
  tenants: {
    id: { type: 'uuid', default: true },
    name: { type: 'text' },
    slug: { type: 'text' },
    status: { type: 'text', default: true },
    max_tier: { type: 'text', default: true },
    created_at: { type: 'timestamptz', default: true },
    updated_at: { type: 'timestamptz', default: true },
  },
  audit_events: {
    id: { type: 'uuid', default: true },
    tenant_id: { type: 'uuid', nullable: true },
    action: { type: 'text' },
    actor_type: { type: 'text' },
    actor_id: { type: 'text', nullable: true },
    target_type: { type: 'text', nullable: true },
    target_id: { type: 'text', nullable: true },
    ip: { type: 'text', nullable: true },
    request_id: { type: 'text', nullable: true },
    metadata: { type: 'jsonb', default: true },
    created_at: { type: 'timestamptz', default: true },
  },
  users: {
    id: { type: 'uuid', default: true },
    tenant_id: { type: 'uuid' },
    email: { type: 'text' },
    email_key: { type: 'text' },
    name: { type: 'text' },
    role: { type: 'text' },
    status: { type: 'text', default: true },
    password_hash: { type: 'text' },
    password_temporary: { type: 'boolean', default: true },
    failed_logins: { type: 'integer', default: true },
    created_at: { type: 'timestamptz', default: true },
    updated_at: { type: 'timestamptz', default: true },
    last_login_at: { type: 'timestamptz', nullable: true },
    password_changed_at: { type: 'timestamptz', nullable: true },
  },
  sessions: {
    id: { type: 'uuid', default: true },
    user_id: { type: 'uuid' },
    created_at: { type: 'timestamptz', default: true },
    expires_at: { type: 'timestamptz' },
    revoked_at: { type: 'timestamptz', nullable: true },
    revoked_reason: { type: 'text', nullable: true },
    ip: { type: 'text', nullable: true },
    user_agent: { type: 'text', nullable: true },
    rotation_key: { type: 'text', default: true },
    access_jti_hash: { type: 'text', nullable: true },
    last_spent_hash: { type: 'text', nullable: true },
    last_rotated_at: { type: 'timestamptz', nullable: true },
  },
  refresh_tokens: {
    id: { type: 'uuid', default: true },
    session_id: { type: 'uuid' },
    token_hash: { type: 'text' },
    created_at: { type: 'timestamptz', default: true },
    expires_at: { type: 'timestamptz' },
    spent_at: { type: 'timestamptz', nullable: true },
  },
  password_reset_tokens: {
    id: { type: 'uuid', default: true },
    user_id: { type: 'uuid' },
    token_hash: { type: 'text' },
    created_at: { type: 'timestamptz', default: true },
    expires_at: { type: 'timestamptz' },
    spent_at: { type: 'timestamptz', nullable: true },
  },
  api_keys: {
    id: { type: 'uuid', default: true },
    tenant_id: { type: 'uuid' },
    name: { type: 'text' },
    tier: { type: 'text' },
    scopes: { type: 'text[]' },
    ip_whitelist: { type: 'text[]', default: true },
    prefix: { type: 'text' },
    last4: { type: 'text' },
    key_hash: { type: 'text' },
    previous_key_hash: { type: 'text', nullable: true },
    previous_expires_at: { type: 'timestamptz', nullable: true },
    created_by_type: { type: 'text' },
    created_by: { type: 'text', nullable: true },
    created_at: { type: 'timestamptz', default: true },
    updated_at: { type: 'timestamptz', default: true },
    expires_at: { type: 'timestamptz' },
    rotated_at: { type: 'timestamptz', nullable: true },
    revoked_at: { type: 'timestamptz', nullable: true },
    last_used_at: { type: 'timestamptz', nullable: true },
    last_used_ip: { type: 'text', nullable: true },
    anomaly: { type: 'jsonb', nullable: true },
    anomaly_at: { type: 'timestamptz', nullable: true },
  },
  mail_outbox: {
    id: { type: 'uuid', default: true },
    to_address: { type: 'text' },
    subject: { type: 'text' },
    body: { type: 'text' },
    kind: { type: 'text' },
    created_at: { type: 'timestamptz', default: true },
    sent_at: { type: 'timestamptz', nullable: true },
    attempts: { type: 'integer', default: true },
    last_error: { type: 'text', nullable: true },
  },
  business_settings: {
    tenant_id: { type: 'uuid' },
    legal_name: { type: 'text' },
    trade_name: { type: 'text', nullable: true },
    tin: { type: 'text' },
    email: { type: 'text' },
    phone: { type: 'text', nullable: true },
    address: { type: 'jsonb', nullable: true },
    created_at: { type: 'timestamptz', default: true },
    updated_at: { type: 'timestamptz', default: true },
  },
  firs_credentials: {
    tenant_id: { type: 'uuid' },
    client_id: { type: 'text' },
    client_secret_enc: { type: 'text' },
    client_secret_last4: { type: 'text' },
    api_key_enc: { type: 'text', nullable: true },
    api_key_last4: { type: 'text', nullable: true },
    created_at: { type: 'timestamptz', default: true },
    updated_at: { type: 'timestamptz', default: true },
  },
  firs_connections: {
    tenant_id: { type: 'uuid' },
    access_token_enc: { type: 'text' },
    refresh_token_enc: { type: 'text', nullable: true },
    expires_at: { type: 'timestamptz', nullable: true },
    created_at: { type: 'timestamptz', default: true },
    updated_at: { type: 'timestamptz', default: true },
  },
  invoices: {
    id: { type: 'uuid', default: true },
    tenant_id: { type: 'uuid' },
    number: { type: 'text' },
    status: { type: 'text', default: true },
    body: { type: 'jsonb' },
    idempotency_key: { type: 'text', nullable: true },
    request_hash: { type: 'text' },
    created_at: { type: 'timestamptz', default: true },
  },
  contracts: {
    id: { type: 'uuid', default: true },
    tenant_id: { type: 'uuid' },
    title: { type: 'text' },
    template: { type: 'text' },
    parties: { type: 'jsonb' },
    status: { type: 'text', default: true },
    created_at: { type: 'timestamptz', default: true },
  },
  vaults: {
    id: { type: 'uuid', default: true },
    tenant_id: { type: 'uuid' },
    contract_id: { type: 'uuid', nullable: true },
    name: { type: 'text' },
    created_at: { type: 'timestamptz', default: true },
  },
  webhook_subscriptions: {
    id: { type: 'uuid', default: true },
    tenant_id: { type: 'uuid' },
    url: { type: 'text' },
    events: { type: 'text[]' },
    secret_enc: { type: 'text' },
    created_at: { type: 'timestamptz', default: true },
  },
  event_routing: {
    tenant_id: { type: 'uuid' },
    routes: { type: 'jsonb' },
    created_at: { type: 'timestamptz', default: true },
    updated_at: { type: 'timestamptz', default: true },
  },
  sandbox_runs: {
    id: { type: 'uuid', default: true },
    tenant_id: { type: 'uuid' },
    checks: { type: 'jsonb' },
    ok: { type: 'boolean' },
    created_at: { type: 'timestamptz', default: true },
  },
  firs_dictionary: {
    category: { type: 'text' },
    entries: { type: 'jsonb' },
    updated_at: { type: 'timestamptz', default: true },
  },
} as const satisfies Record<string, Record<string, ColumnSpec>>;

type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

interface TypeOf {
  uuid: string;
  text: string;
  'text[]': string[];
  integer: number;
  boolean: boolean;
  timestamptz: Date;
  jsonb: JsonValue;
}

type Base<C extends ColumnSpec> = C extends { nullable: true } ? TypeOf[C['type']] | null : TypeOf[C['type']];
type Column<C extends ColumnSpec> = C extends { default: true } | { nullable: true }
  ? ColumnType<Base<C>, Base<C> | undefined, Base<C>>
  : C['type'] extends 'timestamptz'
    ? ColumnType<Date, Date | string, Date | string>
    : Base<C>;

/** Narrows free-text columns whose values the schema restricts with CHECK constraints. */
interface Narrowed {
  tenants: {
    status: ColumnType<'active' | 'suspended', 'active' | 'suspended' | undefined, 'active' | 'suspended'>;
    max_tier: ColumnType<Tier, Tier | undefined, Tier>;
  };
  audit_events: { actor_type: ActorType };
  api_keys: {
    tier: Tier;
    scopes: Scope[];
    created_by_type: ActorType;
  };
  users: {
    role: Role;
    status: ColumnType<'active' | 'disabled', 'active' | 'disabled' | undefined, 'active' | 'disabled'>;
  };
}

export type { ActorType, Role, Tier };

type AsSpec<X> = X extends ColumnSpec ? X : never;

type Table<T extends keyof typeof tables> = Omit<
  { -readonly [K in keyof (typeof tables)[T]]: Column<AsSpec<(typeof tables)[T][K]>> },
  keyof (T extends keyof Narrowed ? Narrowed[T] : object)
> &
  (T extends keyof Narrowed ? Narrowed[T] : object);

export type Database = { [T in keyof typeof tables]: Table<T> };
export type { JsonValue };
