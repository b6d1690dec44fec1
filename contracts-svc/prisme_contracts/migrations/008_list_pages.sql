-- Keyset pages of GET /v1/clients, /v1/contracts and /v1/terminations (API 2.0): each list's
-- sort key with its unique tiebreaker.
CREATE INDEX clients_by_creation ON clients (created_at, id);
CREATE INDEX contracts_by_creation ON contracts (created_at, id);
CREATE INDEX terminations_by_request ON terminations (requested_at, id);
