-- Practices mapped to a Microsoft 365 tenant and the verified domain of their login names.
CREATE TABLE tenants (
    client_id uuid PRIMARY KEY,
    graph_tenant text NOT NULL,
    domain text NOT NULL,
    sku_part_number text NOT NULL DEFAULT 'O365_BUSINESS',
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- What this service knows of contracts (from contract.* events), for ordering and L3.
CREATE TABLE contracts (
    contract_id uuid PRIMARY KEY,
    client_id uuid NOT NULL,
    year integer NOT NULL,
    includes_m365 boolean NOT NULL,
    status text NOT NULL CHECK (status IN ('active', 'ended')),
    version integer NOT NULL
);

-- One Microsoft 365 account per user of a practice; user_id is stable across years (L3).
CREATE TABLE accounts (
    id uuid PRIMARY KEY,
    client_id uuid NOT NULL,
    contract_id uuid NOT NULL,
    attached_version integer NOT NULL DEFAULT 0,
    user_id uuid NOT NULL UNIQUE,
    graph_tenant text NOT NULL,
    upn text NOT NULL,
    display_name text NOT NULL,
    first_name text NOT NULL,
    last_name text NOT NULL,
    sku text NOT NULL,
    graph_user_id text,
    status text NOT NULL CHECK (status IN ('pending', 'active', 'revoked', 'failed')),
    credential_state text NOT NULL DEFAULT 'none'
        CHECK (credential_state IN ('none', 'available', 'read', 'expired')),
    alert text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX accounts_upn ON accounts (graph_tenant, lower(upn));
CREATE INDEX accounts_contract ON accounts (contract_id);
CREATE INDEX accounts_client ON accounts (client_id);

-- Initial passwords, AES-GCM sealed (key outside the database), deleted once read or expired.
CREATE TABLE credentials (
    account_id uuid PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    nonce bytea NOT NULL,
    ciphertext bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz
);

-- Durable Graph work (L4): one row per account operation, run step by step by the worker.
CREATE TABLE jobs (
    id bigserial PRIMARY KEY,
    key text NOT NULL UNIQUE,
    account_id uuid NOT NULL REFERENCES accounts (id),
    graph_tenant text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('provision', 'revoke')),
    step text NOT NULL,
    status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'done', 'failed', 'cancelled')),
    attempts integer NOT NULL DEFAULT 0,
    run_after timestamptz NOT NULL DEFAULT now(),
    lease_owner text,
    lease_until timestamptz,
    last_error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX jobs_ready ON jobs (graph_tenant, run_after, id) WHERE status = 'queued';
CREATE INDEX jobs_account ON jobs (account_id, id);
