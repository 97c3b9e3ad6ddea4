-- 0004: tenant resources (API.md "Tenant resources").
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
