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
