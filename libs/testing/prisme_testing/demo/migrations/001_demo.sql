CREATE TABLE items (
    id uuid PRIMARY KEY,
    n integer NOT NULL,
    poison boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE TABLE effects (
    seq bigserial PRIMARY KEY,
    item_id uuid NOT NULL,
    event_id uuid NOT NULL,
    trace_id text,
    sent_at timestamptz NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE TABLE cured (item_id uuid PRIMARY KEY);
