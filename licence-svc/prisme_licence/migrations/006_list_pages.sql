-- Keyset pages of GET /v1/accounts (by practice, UPN, id) and GET /v1/alerts (by the alert's
-- time, id): API 2.0.
CREATE INDEX accounts_by_client_upn ON accounts (client_id, upn, id);
CREATE INDEX accounts_alerts ON accounts (updated_at, id) WHERE alert IS NOT NULL;
