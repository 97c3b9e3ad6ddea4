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
  CHECK ((previous_key_hash IS NULL) = (previous_expires_at IS NULL))
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
