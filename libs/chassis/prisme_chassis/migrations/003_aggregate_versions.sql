-- The version of each aggregate a service publishes events about (DESIGN §3: every event carries
-- it). Bumped by prisme_chassis.bus.next_version in the transaction that enqueues the event.
CREATE TABLE aggregate_versions (
    aggregate text NOT NULL,
    aggregate_id text NOT NULL,
    version bigint NOT NULL,
    PRIMARY KEY (aggregate, aggregate_id)
);
