-- Issue 16: one user per plan on the repository server (K1, K3, R8), the plan's databases by
-- name only (the agent's local configuration says how to dump them), and the maintenance
-- (forget/prune, quota, integrity check) done by backup-svc instead of the agents.

-- The repository's top directory on the repository server is the user's name. Plans made
-- before this migration keep their old location, which the server does not serve: re-create
-- them (development data only at the time of writing).
ALTER TABLE plans ADD COLUMN repository_user text;
UPDATE plans SET repository_user = 'p' || substr(md5(id::text), 1, 16);
ALTER TABLE plans ALTER COLUMN repository_user SET NOT NULL;
CREATE UNIQUE INDEX plans_repository_user ON plans (repository_user);
-- bcrypt hash of the user's password; NULL = no access (no agent enrolled, or contract ended)
ALTER TABLE plans ADD COLUMN repository_user_hash text;
ALTER TABLE plans ADD COLUMN over_quota boolean NOT NULL DEFAULT false;
ALTER TABLE plans ADD COLUMN repository_bytes bigint;
-- maintenance is due while runs_reported > runs_maintained
ALTER TABLE plans ADD COLUMN runs_reported bigint NOT NULL DEFAULT 0;
ALTER TABLE plans ADD COLUMN runs_maintained bigint NOT NULL DEFAULT 0;
ALTER TABLE plans ADD COLUMN maintained_at timestamptz;
CREATE INDEX plans_maintenance ON plans (id) WHERE runs_reported > runs_maintained;

UPDATE plans SET databases = coalesce(
    (SELECT jsonb_agg(jsonb_build_object('name', d->>'name')) FROM jsonb_array_elements(databases) d),
    '[]'::jsonb);

-- integrity checks are now run by backup-svc itself: no agent
ALTER TABLE checks ALTER COLUMN agent_id DROP NOT NULL;
