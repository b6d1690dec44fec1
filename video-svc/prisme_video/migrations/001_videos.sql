-- Contracts as video-svc learns them from contract.* events (V3): version-guarded, ended sticks.
CREATE TABLE contracts (
    contract_id uuid PRIMARY KEY,
    client_id uuid NOT NULL,
    version integer NOT NULL,
    status text NOT NULL CHECK (status IN ('active', 'ended')),
    ends_at timestamptz,
    ended_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX contracts_ended ON contracts (ended_at) WHERE status = 'ended';

-- Recordings (V1). The ciphertext lives in the object store; this row holds what it takes to
-- read it back except the master key: the data key is stored wrapped.
CREATE TABLE videos (
    id uuid PRIMARY KEY,
    client_id uuid NOT NULL,
    contract_id uuid NOT NULL,
    title text NOT NULL,
    uploaded_by text NOT NULL,
    uploaded_at timestamptz NOT NULL DEFAULT now(),
    container text NOT NULL,
    video_codec text NOT NULL,
    width integer NOT NULL,
    height integer NOT NULL,
    duration_seconds numeric(12, 3) NOT NULL,
    size_bytes bigint NOT NULL,
    chunk_size integer NOT NULL,
    object_name text NOT NULL,
    nonce_prefix bytea NOT NULL,
    poster_object text NOT NULL,
    poster_size integer NOT NULL,
    poster_nonce_prefix bytea NOT NULL,
    wrapped_key bytea NOT NULL,
    deleted_at timestamptz
);
CREATE INDEX videos_client ON videos (client_id, uploaded_at);
CREATE INDEX videos_contract ON videos (contract_id) WHERE deleted_at IS NULL;

CREATE TABLE comments (
    id uuid PRIMARY KEY,
    video_id uuid NOT NULL REFERENCES videos (id),
    at_seconds numeric(12, 3) NOT NULL CHECK (at_seconds >= 0),
    text text NOT NULL,
    author text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX comments_video ON comments (video_id, at_seconds);

-- Share links (V2): only hashes of the token (SHA-256) and password (Argon2id).
CREATE TABLE links (
    id uuid PRIMARY KEY,
    video_id uuid NOT NULL REFERENCES videos (id),
    client_id uuid NOT NULL,
    contract_id uuid NOT NULL,
    token_hash bytea NOT NULL UNIQUE,
    password_hash text NOT NULL,
    expires_at timestamptz NOT NULL,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz,
    revoked_reason text
);
CREATE INDEX links_contract_live ON links (contract_id) WHERE revoked_at IS NULL;
CREATE INDEX links_client ON links (client_id, created_at);

-- Access log (V4): every page, login attempt and stream; also the throttling state.
CREATE TABLE access_log (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT clock_timestamp(),
    link_id uuid,
    video_id uuid,
    address text NOT NULL,
    user_agent text NOT NULL DEFAULT '',
    event text NOT NULL CHECK (
        event IN ('page', 'login_ok', 'login_failed', 'throttled', 'locked', 'stream', 'gone', 'denied')
    ),
    status integer NOT NULL,
    range_start bigint,
    range_end bigint,
    bytes_served bigint NOT NULL DEFAULT 0
);
CREATE INDEX access_log_link ON access_log (link_id, at);
CREATE INDEX access_log_failed_link ON access_log (link_id, at) WHERE event = 'login_failed';
CREATE INDEX access_log_failed_address ON access_log (address, at) WHERE event = 'login_failed';
