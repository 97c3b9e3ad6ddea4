-- 0005: the latest anomaly of an API key, a field of the key object (API.md §5 "Anomalies").
-- `anomaly` is `{kind, ...detail}` as in the `api_key.anomaly` audit event's metadata; `anomaly_at` is
-- when it was detected. Written off the request path with the audit event; a newer one replaces it.
ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS anomaly jsonb;
ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS anomaly_at timestamptz;
ALTER TABLE api_keys DROP CONSTRAINT IF EXISTS api_keys_anomaly_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_anomaly_check CHECK ((anomaly IS NULL) = (anomaly_at IS NULL));
