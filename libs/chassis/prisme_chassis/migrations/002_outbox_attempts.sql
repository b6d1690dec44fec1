-- A row that cannot be published (a subject no stream takes, a payload too big, a permissions
-- violation) is isolated: its failed attempts are counted and it waits until next_attempt_at,
-- while the rows after it flow (libs/README.md, "The bus never stalls").
ALTER TABLE outbox
    ADD COLUMN attempts integer NOT NULL DEFAULT 0,
    ADD COLUMN next_attempt_at timestamptz,
    ADD COLUMN last_error text;
CREATE INDEX outbox_failing ON outbox (seq) WHERE sent_at IS NULL AND attempts > 0;
