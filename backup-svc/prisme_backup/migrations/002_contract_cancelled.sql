-- C8: a renewal draft can be cancelled (or expire) after the plan was carried over to it.
ALTER TABLE contracts DROP CONSTRAINT contracts_status_check;
ALTER TABLE contracts ADD CONSTRAINT contracts_status_check
    CHECK (status IN ('active', 'ended', 'cancelled'));
