-- The durable job queue (prisme_chassis.jobs): work that calls the outside and must survive a
-- crash. A job is enqueued in the caller's transaction, leased by a worker (lease_owner until
-- lease_expires_at), run outside any transaction, then its outcome is recorded. The table is
-- named job_queue, not jobs: licence-svc's first migration already owns a table named jobs.
CREATE TABLE job_queue (
    id bigserial PRIMARY KEY,
    kind text NOT NULL,
    -- from domain ids (e.g. "invoice:<id>:finalize"); also the idempotency key sent outside
    idempotency_key text NOT NULL,
    payload jsonb NOT NULL DEFAULT '{}'::jsonb,  -- ids and facts, never a secret
    state text NOT NULL DEFAULT 'queued'
        CHECK (state IN ('queued', 'running', 'succeeded', 'dead', 'cancelled')),
    attempts integer NOT NULL DEFAULT 0,  -- runs started (a throttled run is given back)
    max_attempts integer NOT NULL CHECK (max_attempts > 0),
    next_attempt_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    lease_owner text,
    lease_expires_at timestamptz,
    last_error text,
    -- jobs of a batch kind are claimed together only when they share a group (a Graph tenant)
    group_key text,
    -- jobs sharing a serial key run one at a time, in the order they were enqueued (an account)
    serial_key text,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at timestamptz,
    UNIQUE (kind, idempotency_key)
);
CREATE INDEX job_queue_ready ON job_queue (kind, next_attempt_at, id) WHERE state = 'queued';
CREATE INDEX job_queue_leased ON job_queue (kind, lease_expires_at) WHERE state = 'running';
CREATE INDEX job_queue_serial ON job_queue (serial_key, id)
    WHERE serial_key IS NOT NULL AND state IN ('queued', 'running');
CREATE INDEX job_queue_state ON job_queue (state, id);
