-- B1 (issue 15): the price book is keyed by offer and maintenance level ("niveau de prise en
-- charge", contracts-svc's catalogue, contract.level in events v2); PRISME's published price is
-- the default level, 'standard'. A charge waits for the price of its own (offer, level).
ALTER TABLE price_book_entries ADD COLUMN level text NOT NULL DEFAULT 'standard';
ALTER TABLE price_book_entries DROP CONSTRAINT price_book_entries_pkey;
ALTER TABLE price_book_entries ADD PRIMARY KEY (version, offer, level);
ALTER TABLE price_book_entries ALTER COLUMN level DROP DEFAULT;

ALTER TABLE charges ADD COLUMN level text NOT NULL DEFAULT 'standard';
DROP INDEX charges_awaiting;
CREATE INDEX charges_awaiting ON charges (offer, level) WHERE status = 'awaiting_price';

-- O2: a price-book change (the yearly prices, or the one-off items of B9) is a four-eyes
-- request like a correction; it has no document as target; a yearly price change's result is
-- the price-book version it wrote.
ALTER TABLE approvals DROP CONSTRAINT approvals_kind_check;
ALTER TABLE approvals ADD CONSTRAINT approvals_kind_check
    CHECK (kind IN ('correction', 'price_book', 'price_items'));
ALTER TABLE approvals ALTER COLUMN target_id DROP NOT NULL;
ALTER TABLE approvals ADD CONSTRAINT approvals_target_of_kind
    CHECK ((kind = 'correction') = (target_id IS NOT NULL));
ALTER TABLE approvals ADD COLUMN result_version integer REFERENCES price_book_versions (version);
ALTER TABLE price_book_versions ADD COLUMN approved_by text;
