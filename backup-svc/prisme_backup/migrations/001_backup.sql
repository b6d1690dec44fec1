-- backup-svc: plans, agents, runs, snapshots catalogue, checks, alerts, exports, purges.

-- What backup-svc knows of each contract (version-aware handling of contract.* events).
CREATE TABLE contracts (
    contract_id     uuid PRIMARY KEY,
    client_id       uuid NOT NULL,
    version         integer NOT NULL,
    status          text NOT NULL CHECK (status IN ('active', 'ended')),
    includes_backup boolean NOT NULL,
    year            integer NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- K1: one plan (and one restic repository) per practice.
CREATE TABLE plans (
    id                  uuid PRIMARY KEY,
    client_id           uuid NOT NULL UNIQUE,
    client_name         text NOT NULL DEFAULT '',
    contract_id         uuid NOT NULL,
    status              text NOT NULL CHECK (status IN ('active', 'ended', 'purged')),
    databases           jsonb NOT NULL DEFAULT '[]',
    share_path          text,
    daily_at            time NOT NULL DEFAULT '21:00',
    grace_minutes       integer NOT NULL DEFAULT 360 CHECK (grace_minutes BETWEEN 0 AND 1440),
    quota_bytes         bigint NOT NULL,
    history_days        integer NOT NULL,
    check_parts         integer NOT NULL DEFAULT 7 CHECK (check_parts BETWEEN 1 AND 365),
    restore_every_days  integer NOT NULL DEFAULT 7 CHECK (restore_every_days >= 1),
    restore_sample      integer NOT NULL DEFAULT 5 CHECK (restore_sample BETWEEN 1 AND 1000),
    repository_location text NOT NULL,
    repository_password bytea NOT NULL,          -- AES-256-GCM sealed, AAD = plan id
    expected_from       date NOT NULL,           -- first day a copy is owed
    last_day            date,                    -- last day covered by the contract once ended
    ended_at            timestamptz,
    purge_after         timestamptz,
    purged_at           timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX plans_purge ON plans (purge_after) WHERE status = 'ended';

CREATE TABLE enrolment_tokens (
    id          uuid PRIMARY KEY,
    plan_id     uuid NOT NULL REFERENCES plans (id),
    token_hash  bytea NOT NULL UNIQUE,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE agents (
    id              uuid PRIMARY KEY,
    plan_id         uuid NOT NULL REFERENCES plans (id),
    hostname        text NOT NULL,
    credential_hash bytea NOT NULL UNIQUE,
    status          text NOT NULL CHECK (status IN ('active', 'revoked')),
    enrolled_at     timestamptz NOT NULL DEFAULT now(),
    revoked_at      timestamptz,
    last_seen_at    timestamptz
);
CREATE INDEX agents_plan ON agents (plan_id);

CREATE TABLE runs (
    id               uuid PRIMARY KEY,
    plan_id          uuid NOT NULL REFERENCES plans (id),
    agent_id         uuid NOT NULL REFERENCES agents (id),
    day              date NOT NULL,
    started_at       timestamptz NOT NULL,
    finished_at      timestamptz NOT NULL,
    status           text NOT NULL CHECK (status IN ('succeeded', 'failed')),
    error            text,
    snapshot_id      text,
    bytes_added      bigint NOT NULL DEFAULT 0,
    total_bytes      bigint NOT NULL DEFAULT 0,
    files            bigint NOT NULL DEFAULT 0,
    repository_bytes bigint,
    received_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX runs_plan_day ON runs (plan_id, day);

CREATE TABLE snapshots (
    plan_id      uuid NOT NULL REFERENCES plans (id),
    snapshot_id  text NOT NULL,
    run_id       uuid NOT NULL REFERENCES runs (id),
    taken_at     timestamptz NOT NULL,
    bytes_added  bigint NOT NULL,
    total_bytes  bigint NOT NULL,
    files        bigint NOT NULL,
    forgotten_at timestamptz,
    PRIMARY KEY (plan_id, snapshot_id)
);

CREATE TABLE checks (
    id          uuid PRIMARY KEY,
    plan_id     uuid NOT NULL REFERENCES plans (id),
    agent_id    uuid NOT NULL REFERENCES agents (id),
    run_id      uuid REFERENCES runs (id),
    kind        text NOT NULL CHECK (kind IN ('integrity', 'restore')),
    ok          boolean NOT NULL,
    subset      text,
    snapshot_id text,
    detail      text NOT NULL DEFAULT '',
    checked_at  timestamptz NOT NULL
);
CREATE INDEX checks_plan ON checks (plan_id, checked_at);

-- K2: alerts, one per fact (dedupe_key), visible through GET /v1/alerts.
CREATE TABLE alerts (
    id          uuid PRIMARY KEY,
    plan_id     uuid NOT NULL REFERENCES plans (id),
    client_id   uuid NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('missed', 'failed', 'check_failed', 'over_quota')),
    day         date,
    detail      text NOT NULL,
    dedupe_key  text NOT NULL UNIQUE,
    raised_at   timestamptz NOT NULL DEFAULT now(),
    resolved_at timestamptz
);
CREATE INDEX alerts_open ON alerts (raised_at) WHERE resolved_at IS NULL;

-- K3: the client's last full export.
CREATE TABLE exports (
    id           uuid PRIMARY KEY,
    plan_id      uuid NOT NULL REFERENCES plans (id),
    status       text NOT NULL CHECK (status IN ('pending', 'running', 'ready', 'failed', 'purged')),
    requested_by text NOT NULL,
    requested_at timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    snapshot_id  text,
    size_bytes   bigint,
    error        text
);
CREATE INDEX exports_pending ON exports (requested_at) WHERE status IN ('pending', 'running');

-- K3: the record that a repository was destroyed.
CREATE TABLE purges (
    id                  uuid PRIMARY KEY,
    plan_id             uuid NOT NULL REFERENCES plans (id),
    client_id           uuid NOT NULL,
    repository_location text NOT NULL,
    snapshots           integer NOT NULL,
    purged_at           timestamptz NOT NULL
);
