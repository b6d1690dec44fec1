-- Operators, their sessions, second factors and the sign-in throttle (DESIGN §7, O1).
CREATE TABLE operators (
    id uuid PRIMARY KEY,
    email text NOT NULL CHECK (email = lower(email) AND email LIKE '%_@_%'),
    name text NOT NULL,
    roles text[] NOT NULL CHECK (
        cardinality(roles) > 0 AND roles <@ ARRAY['admin', 'technician', 'accountant']
    ),
    status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    -- Argon2id (argon2-cffi's encoded form); NULL for an operator who signs in only by OpenID
    password_hash text,
    must_change_password boolean NOT NULL DEFAULT true,
    -- the TOTP seed sealed with AES-256-GCM under the dashboard's secret key, never in clear
    totp_seed_sealed bytea,
    totp_enabled_at timestamptz,
    -- the last accepted TOTP time step: a code is never accepted twice
    totp_last_step bigint,
    oidc_issuer text,
    oidc_subject text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (email),
    UNIQUE (oidc_issuer, oidc_subject)
);

CREATE TABLE recovery_codes (
    operator_id uuid NOT NULL REFERENCES operators (id) ON DELETE CASCADE,
    code_hash bytea NOT NULL,
    used_at timestamptz,
    PRIMARY KEY (operator_id, code_hash)
);

-- Server-side sessions: only the SHA-256 of the cookie's 256-bit token is stored.
CREATE TABLE sessions (
    id uuid PRIMARY KEY,
    token_hash bytea NOT NULL UNIQUE,
    operator_id uuid NOT NULL REFERENCES operators (id) ON DELETE CASCADE,
    -- 'second_factor': the password was right, the TOTP code is still due
    stage text NOT NULL CHECK (stage IN ('second_factor', 'active')),
    csrf_token text NOT NULL,
    address text,
    user_agent text,
    created_at timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    ended_at timestamptz,
    end_reason text
);
CREATE INDEX sessions_operator ON sessions (operator_id) WHERE ended_at IS NULL;

-- Failed sign-ins per key ('address:…' or 'account:…'): the growing delay, never a lock.
CREATE TABLE sign_in_failures (
    key text PRIMARY KEY,
    failures integer NOT NULL,
    last_failure_at timestamptz NOT NULL
);

-- O3: the dashboard's own audit trail (who, what, target, from where, why); no secret in it.
CREATE TABLE audit (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    actor_id text,
    actor_name text,
    action text NOT NULL,
    target_type text,
    target_id text,
    address text,
    request_id text,
    reason text,
    detail jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_target ON audit (target_type, target_id);
