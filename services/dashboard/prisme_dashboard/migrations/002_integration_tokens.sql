-- Named integration tokens an admin creates (DESIGN §7). The token itself is never stored:
-- it is a signed JWT whose jti is this row's id; revoking it publishes the id on the bus.
CREATE TABLE integration_tokens (
    id uuid PRIMARY KEY,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    scopes text[] NOT NULL CHECK (cardinality(scopes) > 0),
    created_by uuid REFERENCES operators (id),
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz,
    revoked_by uuid REFERENCES operators (id)
);
CREATE UNIQUE INDEX integration_tokens_live_name ON integration_tokens (name)
    WHERE revoked_at IS NULL;
