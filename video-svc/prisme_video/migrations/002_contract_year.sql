-- The contract's year (C2), from the contract.* events that carry it, so the year-end progress
-- (GET /v1/year-end/{year}, issue 12) counts a year's ended contracts and their links. Rows
-- projected before this migration get it from the engagement's end, else from the end itself
-- (both in the year, Indian/Reunion time).
ALTER TABLE contracts ADD COLUMN year integer;
UPDATE contracts
SET year = extract(year FROM coalesce(ends_at, ended_at) AT TIME ZONE 'Indian/Reunion')::integer;
CREATE INDEX contracts_year_ended ON contracts (year) WHERE status = 'ended';
