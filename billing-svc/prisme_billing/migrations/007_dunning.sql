-- B10: dunning. An invoice unpaid past its due date is overdue (once, published); reminders
-- to the practice's manager at +7 and +21 days are recorded once per stage.
ALTER TABLE documents ADD COLUMN overdue_since date;
CREATE INDEX documents_unpaid_due ON documents (due_date)
    WHERE kind = 'invoice' AND status IN ('open', 'payment_failed');

CREATE TABLE reminders (
    invoice_id   uuid NOT NULL REFERENCES documents (id),
    stage_days   integer NOT NULL CHECK (stage_days > 0),
    due_on       date NOT NULL,
    outstanding  numeric(12, 2) NOT NULL,
    penalty      numeric(12, 2) NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (invoice_id, stage_days)
);
