-- One refresh lineage per login (docs/decisions/0015-one-refresh-lineage.md): the rotation state of a
-- login. Existing logins get a random rotation key of their own from the default.
ALTER TABLE sessions ADD COLUMN IF NOT EXISTS rotation_key text NOT NULL DEFAULT replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '');
ALTER TABLE sessions ADD COLUMN IF NOT EXISTS access_jti_hash text;
ALTER TABLE sessions ADD COLUMN IF NOT EXISTS last_spent_hash text;
ALTER TABLE sessions ADD COLUMN IF NOT EXISTS last_rotated_at timestamptz;
