-- Keyset pages (API 2.0): plans oldest first, runs, snapshots and alerts newest first; each key
-- with its unique tiebreaker.
CREATE INDEX plans_by_creation ON plans (created_at, id);
CREATE INDEX runs_by_plan_start ON runs (plan_id, started_at DESC, id DESC);
CREATE INDEX snapshots_kept ON snapshots (plan_id, taken_at DESC, snapshot_id DESC)
    WHERE forgotten_at IS NULL;
CREATE INDEX alerts_by_raise ON alerts (raised_at DESC, id DESC);
