-- C6 complete: a request is approved or rejected with a note by another operator, or withdrawn
-- by its requester; a future effective date schedules the ending (applied_at when it happened).
ALTER TABLE terminations DROP CONSTRAINT terminations_status_check;
ALTER TABLE terminations ADD CONSTRAINT terminations_status_check
    CHECK (status IN ('pending', 'approved', 'rejected', 'withdrawn'));
ALTER TABLE terminations
    ADD COLUMN decided_by text,
    ADD COLUMN decided_at timestamptz,
    ADD COLUMN decision_note text,
    ADD COLUMN applied_at timestamptz;
UPDATE terminations SET decided_by = approved_by, decided_at = approved_at, applied_at = approved_at
 WHERE status = 'approved';

-- One open request per contract: pending, or approved and waiting for its date. A rejected or
-- withdrawn one frees the contract for a new request.
DROP INDEX terminations_pending;
CREATE UNIQUE INDEX terminations_open ON terminations (contract_id)
 WHERE status = 'pending' OR (status = 'approved' AND applied_at IS NULL);
CREATE INDEX terminations_scheduled ON terminations (effective_date)
 WHERE status = 'approved' AND applied_at IS NULL;
