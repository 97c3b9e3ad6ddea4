-- HEIR Auth schema: the readable whole. Databases are built from migrations/ (ordered, applied once
-- each by `npm run db:migrate`, the Vercel build, the dev server and the tests); a schema change edits
-- this file AND adds the next migration, and tests/http/migrations.test.ts fails when they differ.
-- lib/db/tables.ts mirrors every column for Kysely; tests/http/db-schema.test.ts fails when they drift.

CREATE TABLE IF NOT EXISTS tenants (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name text NOT NULL,
  slug text NOT NULL,
  status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
  max_tier text NOT NULL DEFAULT 'public' CHECK (max_tier IN ('public', 'partner', 'internal')),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS tenants_slug_key ON tenants (slug);
CREATE INDEX IF NOT EXISTS tenants_page_idx ON tenants (created_at DESC, id DESC);

-- Who did what, written in the same transaction as the change it records.
CREATE TABLE IF NOT EXISTS audit_events (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid REFERENCES tenants (id) ON DELETE CASCADE,
  action text NOT NULL,
  actor_type text NOT NULL CHECK (actor_type IN ('admin_key', 'api_key', 'user', 'anonymous', 'system')),
  actor_id text,
  target_type text,
  target_id text,
  ip text,
  request_id text,
  metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS audit_events_tenant_page_idx ON audit_events (tenant_id, created_at DESC, id DESC);

-- People: tenant owners and team members. Emails are unique across the platform (login names no
-- tenant); `email_key` is the canonical form (trimmed, NFKC, lower case) so look-alikes collide.
CREATE TABLE IF NOT EXISTS users (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  email text NOT NULL,
  email_key text NOT NULL,
  name text NOT NULL,
  role text NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
  status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
  password_hash text NOT NULL,
  password_temporary boolean NOT NULL DEFAULT true,
  failed_logins integer NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  last_login_at timestamptz,
  password_changed_at timestamptz
);
CREATE UNIQUE INDEX IF NOT EXISTS users_email_key_key ON users (email_key);
CREATE INDEX IF NOT EXISTS users_tenant_page_idx ON users (tenant_id, created_at DESC, id DESC);

-- One login = one session = one family of refresh tokens. Revoking the session ends them all.
CREATE TABLE IF NOT EXISTS sessions (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  revoked_at timestamptz,
  revoked_reason text,
  ip text,
  user_agent text,
  rotation_key text NOT NULL DEFAULT replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''),
  access_jti_hash text,
  last_spent_hash text,
  last_rotated_at timestamptz
);
-- How a login rotates (docs/decisions/0015-one-refresh-lineage.md): its rows are locked while it does,
-- `rotation_key` (random, per login) derives each rotation's new tokens from the credential spent, so a
-- re-presentation within the grace period gets the same pair again; `access_jti_hash` names the one
-- access token that may still be exchanged; `last_spent_hash` the credential (refresh token, or access
-- token as `jti:` + its jti) the last rotation spent, at `last_rotated_at`.
CREATE INDEX IF NOT EXISTS sessions_user_idx ON sessions (user_id);

-- Refresh tokens are stored as SHA-256 hashes; `spent_at` marks rotation, for reuse detection.
CREATE TABLE IF NOT EXISTS refresh_tokens (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  session_id uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  token_hash text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  spent_at timestamptz
);
CREATE UNIQUE INDEX IF NOT EXISTS refresh_tokens_hash_key ON refresh_tokens (token_hash);
CREATE INDEX IF NOT EXISTS refresh_tokens_session_idx ON refresh_tokens (session_id);

-- Password reset tokens, hashed; at most one unspent token per person.
CREATE TABLE IF NOT EXISTS password_reset_tokens (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  token_hash text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  spent_at timestamptz
);
CREATE UNIQUE INDEX IF NOT EXISTS password_reset_tokens_hash_key ON password_reset_tokens (token_hash);
CREATE UNIQUE INDEX IF NOT EXISTS password_reset_tokens_live_key ON password_reset_tokens (user_id) WHERE spent_at IS NULL;

-- API keys. Only a SHA-256 of each secret is stored (a dump holds nothing that authenticates); `prefix`
-- and `last4` identify a key to people. Rotation keeps the row: the new secret's hash becomes
-- `key_hash`, the previous one stays valid until `previous_expires_at` (never more than two secrets).
-- A key's status is derived from revoked_at / expires_at / previous_expires_at, never stored.
-- The CHECKs repeat lib/vocabulary.ts's lists; tests/unit/vocabulary.test.ts compares them.
CREATE TABLE IF NOT EXISTS api_keys (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  name text NOT NULL,
  tier text NOT NULL CHECK (tier IN ('public', 'partner', 'internal')),
  scopes text[] NOT NULL CHECK (cardinality(scopes) >= 1 AND scopes <@ ARRAY['contracts', 'vaults', 'webhooks', 'embed', 'admin', 'invoices', 'settings', 'team', 'credentials']),
  ip_whitelist text[] NOT NULL DEFAULT '{}' CHECK (cardinality(ip_whitelist) <= 50),
  prefix text NOT NULL,
  last4 text NOT NULL,
  key_hash text NOT NULL,
  previous_key_hash text,
  previous_expires_at timestamptz,
  created_by_type text NOT NULL CHECK (created_by_type IN ('admin_key', 'api_key', 'user', 'anonymous', 'system')),
  created_by text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  rotated_at timestamptz,
  revoked_at timestamptz,
  last_used_at timestamptz,
  last_used_ip text,
  -- The latest anomaly (API.md §5 "Anomalies"): `{kind, ...detail}`, written off the request path with
  -- its audit event; replaced by a newer one, never cleared.
  anomaly jsonb,
  anomaly_at timestamptz,
  CHECK ((previous_key_hash IS NULL) = (previous_expires_at IS NULL)),
  CONSTRAINT api_keys_anomaly_check CHECK ((anomaly IS NULL) = (anomaly_at IS NULL))
);
CREATE UNIQUE INDEX IF NOT EXISTS api_keys_hash_key ON api_keys (key_hash);
CREATE UNIQUE INDEX IF NOT EXISTS api_keys_previous_hash_key ON api_keys (previous_key_hash) WHERE previous_key_hash IS NOT NULL;
CREATE INDEX IF NOT EXISTS api_keys_tenant_page_idx ON api_keys (tenant_id, created_at DESC, id DESC);

-- Every email the service sends is written here first; SMTP delivery (when configured) follows and
-- then blanks the body, so links and temporary passwords do not stay at rest.
CREATE TABLE IF NOT EXISTS mail_outbox (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  to_address text NOT NULL,
  subject text NOT NULL,
  body text NOT NULL,
  kind text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  sent_at timestamptz,
  attempts integer NOT NULL DEFAULT 0,
  last_error text
);

-- Tenant resources (API.md "Tenant resources").
-- Secrets here are AES-256-GCM ciphertexts (`*_enc`, lib/crypto/data-cipher.ts: `v1.<key id>.…`), bound
-- to their tenant and column; `*_last4` is what GET shows. Nothing here is listed in full.

-- Business settings: one row per tenant, replaced by PUT.
CREATE TABLE IF NOT EXISTS business_settings (
  tenant_id uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
  legal_name text NOT NULL,
  trade_name text,
  tin text NOT NULL,
  email text NOT NULL,
  phone text,
  address jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- FIRS credentials uploaded by the tenant, and the tokens of its FIRS OAuth connection.
CREATE TABLE IF NOT EXISTS firs_credentials (
  tenant_id uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
  client_id text NOT NULL,
  client_secret_enc text NOT NULL,
  client_secret_last4 text NOT NULL,
  api_key_enc text,
  api_key_last4 text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS firs_connections (
  tenant_id uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
  access_token_enc text NOT NULL,
  refresh_token_enc text,
  expires_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Invoices. An Idempotency-Key is unique per tenant; `request_hash` (SHA-256 of the validated body)
-- tells a retry (same body: the same answer) from a misuse (another body: 422).
CREATE TABLE IF NOT EXISTS invoices (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  number text NOT NULL,
  status text NOT NULL DEFAULT 'received' CHECK (status IN ('received')),
  body jsonb NOT NULL,
  idempotency_key text,
  request_hash text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS invoices_idempotency_key ON invoices (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS invoices_tenant_page_idx ON invoices (tenant_id, created_at DESC, id DESC);

-- Contracts, and the vault that holds each contract's documents (created with it).
CREATE TABLE IF NOT EXISTS contracts (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  title text NOT NULL,
  template text NOT NULL,
  parties jsonb NOT NULL,
  status text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft')),
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS contracts_tenant_page_idx ON contracts (tenant_id, created_at DESC, id DESC);
CREATE TABLE IF NOT EXISTS vaults (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  contract_id uuid REFERENCES contracts (id) ON DELETE SET NULL,
  name text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS vaults_tenant_page_idx ON vaults (tenant_id, created_at DESC, id DESC);

-- Webhook subscriptions; the signing secret is shown once and kept encrypted (it signs deliveries).
CREATE TABLE IF NOT EXISTS webhook_subscriptions (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  url text NOT NULL,
  events text[] NOT NULL,
  secret_enc text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS webhook_subscriptions_tenant_page_idx ON webhook_subscriptions (tenant_id, created_at DESC, id DESC);

-- Event routing (admin): one row per tenant, its routes replaced by PUT.
CREATE TABLE IF NOT EXISTS event_routing (
  tenant_id uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
  routes jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Sandbox runs (admin): each run's named checks, kept.
CREATE TABLE IF NOT EXISTS sandbox_runs (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  checks jsonb NOT NULL,
  ok boolean NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS sandbox_runs_tenant_page_idx ON sandbox_runs (tenant_id, created_at DESC, id DESC);

-- The FIRS dictionary's categories as admins last saved them (until then, the built-in seed of
-- lib/resources/firs-dictionary.ts answers).
CREATE TABLE IF NOT EXISTS firs_dictionary (
  category text PRIMARY KEY CHECK (category IN ('tax-categories', 'currencies', 'invoice-types', 'payment-means')),
  entries jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
