-- C3: an override covers one criterion, with a reason and an optional expiry, so a later
-- failure of another criterion is not hidden by an old override.
ALTER TABLE eligibility_overrides
    ADD COLUMN criterion text,
    ADD COLUMN expires_at timestamptz,
    ADD COLUMN lapsed_at timestamptz;

DROP INDEX eligibility_overrides_active;

-- A whole-client override recorded before this change becomes one override per criterion,
-- kept until the end of the current year (Indian/Reunion); after that each criterion needs
-- its own, explicitly.
INSERT INTO eligibility_overrides (id, client_id, reason, created_by, created_at, criterion, expires_at)
SELECT gen_random_uuid(), o.client_id, o.reason, o.created_by, o.created_at, c.criterion,
       make_timestamptz(extract(year FROM now() AT TIME ZONE 'Indian/Reunion')::int, 12, 31,
                        23, 59, 59, 'Indian/Reunion')
  FROM eligibility_overrides o
 CROSS JOIN (VALUES ('postal_code'), ('single_network'), ('internet_speed'),
                    ('asset_supplier'), ('windows_os')) AS c(criterion)
 WHERE o.revoked_at IS NULL AND o.criterion IS NULL;
-- History is kept: the old row stays, revoked by the migration.
UPDATE eligibility_overrides SET revoked_at = now(), revoked_by = 'system:migration-005'
 WHERE criterion IS NULL AND revoked_at IS NULL;

CREATE UNIQUE INDEX eligibility_overrides_active
    ON eligibility_overrides (client_id, criterion) WHERE revoked_at IS NULL AND lapsed_at IS NULL;
CREATE INDEX eligibility_overrides_expiring
    ON eligibility_overrides (expires_at) WHERE revoked_at IS NULL AND lapsed_at IS NULL;
