-- Integrators' endpoints, the messages sent to them, each message's delivery to each endpoint
-- (message_destinations) and every attempt (svix's four records). Alerts e-mailed by S1.

CREATE TABLE endpoints (
    id uuid PRIMARY KEY,
    url text NOT NULL,
    description text NOT NULL DEFAULT '',
    event_types text[] NOT NULL,
    enabled boolean NOT NULL DEFAULT true,
    disabled_reason text,
    -- the signing secret, sealed (AES-256-GCM, associated data = the endpoint id): the
    -- service must sign with it, so it cannot be hashed; kid names the sealing key
    secret_kid text NOT NULL,
    secret_sealed bytea NOT NULL,
    -- after a rotation the previous secret keeps signing until previous_expires_at
    previous_kid text,
    previous_sealed bytea,
    previous_expires_at timestamptz,
    -- first failure of the current run of failures; cleared by a success (5 days: disabled)
    failing_since timestamptz,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

CREATE TABLE messages (
    id uuid PRIMARY KEY,              -- the CloudEvent id: webhook-id on every attempt
    event_type text NOT NULL,
    payload jsonb NOT NULL,           -- thin: ids and facts, never a secret or health data
    occurred_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL
);

CREATE TABLE message_destinations (
    message_id uuid NOT NULL REFERENCES messages (id),
    endpoint_id uuid NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'success', 'failed')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    last_status_code integer,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (message_id, endpoint_id)
);
CREATE INDEX message_destinations_by_endpoint
    ON message_destinations (endpoint_id, status, created_at);

CREATE TABLE attempts (
    id uuid PRIMARY KEY,
    message_id uuid NOT NULL,
    endpoint_id uuid NOT NULL,
    attempted_at timestamptz NOT NULL,
    status_code integer,              -- null: no answer (timeout, refused, connection error)
    latency_ms integer NOT NULL,
    response_excerpt text NOT NULL DEFAULT '',  -- the first KiB of the answer
    error text,
    trigger text NOT NULL,            -- scheduled | resend | recover | test
    next_attempt_at timestamptz,
    FOREIGN KEY (message_id, endpoint_id)
        REFERENCES message_destinations (message_id, endpoint_id) ON DELETE CASCADE
);
CREATE INDEX attempts_by_message ON attempts (message_id, attempted_at);

CREATE TABLE alerts (
    id uuid PRIMARY KEY,
    -- what raised it, once: the event id, "deadletter:<seq>", "job:<id>"…
    dedup_key text NOT NULL UNIQUE,
    rule text NOT NULL,
    urgent boolean NOT NULL,
    audience text NOT NULL CHECK (audience IN ('technicians', 'accountants')),
    subject text NOT NULL,
    body text NOT NULL,
    raised_at timestamptz NOT NULL,
    deliver_at timestamptz NOT NULL,
    sent_at timestamptz,
    acknowledged_at timestamptz,
    acknowledged_by text
);
CREATE INDEX alerts_open ON alerts (raised_at) WHERE acknowledged_at IS NULL;

CREATE TABLE digests (
    day date PRIMARY KEY,             -- Réunion business day
    alerts integer NOT NULL,
    created_at timestamptz NOT NULL
);
