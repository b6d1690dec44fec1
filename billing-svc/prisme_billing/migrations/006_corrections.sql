-- Issue 14: corrections (B6/O2), manual refunds, the audit trail (O3).

-- What a document is for; several credit notes per invoice (corrections), one cessation each.
ALTER TABLE documents ADD COLUMN purpose text NOT NULL DEFAULT 'yearly'
    CHECK (purpose IN ('yearly', 'additional', 'one_off', 'cessation', 'correction'));
ALTER TABLE documents ADD COLUMN reason text;
UPDATE documents SET purpose = 'cessation' WHERE kind = 'credit_note';
UPDATE documents d SET purpose = 'additional'
    FROM charges c WHERE c.invoice_id = d.id AND c.kind = 'amendment';
DROP INDEX one_credit_note_per_invoice;
CREATE UNIQUE INDEX one_cessation_credit_per_invoice ON documents (invoice_id)
    WHERE kind = 'credit_note' AND purpose = 'cessation';
CREATE INDEX documents_invoice ON documents (invoice_id) WHERE invoice_id IS NOT NULL;

-- The invoice line a credit-note line credits (NULL: the invoice as a whole).
ALTER TABLE document_lines ADD COLUMN credits_position integer;

-- Refunds: through Stripe (a job), or manual (a transfer or cheque the accountant sends,
-- recorded once done).
ALTER TABLE refunds ADD COLUMN method text NOT NULL DEFAULT 'stripe'
    CHECK (method IN ('stripe', 'manual'));
ALTER TABLE refunds ADD COLUMN paid_by text
    CHECK (paid_by IS NULL OR paid_by IN ('bank_transfer', 'cheque'));
ALTER TABLE refunds ADD COLUMN paid_on date;
ALTER TABLE refunds ADD COLUMN reference text;
ALTER TABLE refunds ADD COLUMN recorded_by text;

-- O2: four-eyes requests. The maker, the exact payload and its hash, an expiry, the decision
-- and its note; maker ≠ checker enforced here as well as in the code.
CREATE TABLE approvals (
    id            uuid PRIMARY KEY,
    kind          text NOT NULL CHECK (kind IN ('correction')),
    target_id     uuid NOT NULL REFERENCES documents (id),
    payload       jsonb NOT NULL,
    payload_hash  text NOT NULL,
    reason        text NOT NULL,
    maker         text NOT NULL,
    maker_name    text,
    status        text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'approved', 'rejected', 'expired')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    checker       text,
    checker_name  text,
    decided_at    timestamptz,
    note          text,
    result_id     uuid REFERENCES documents (id),
    CHECK (checker IS NULL OR checker <> maker),
    CHECK ((status = 'pending') = (decided_at IS NULL))
);
CREATE INDEX approvals_pending ON approvals (created_at) WHERE status = 'pending';

-- O3: who did what, when, from where and why, written in the same transaction.
CREATE TABLE audit_log (
    id           bigserial PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor        text NOT NULL,
    actor_name   text,
    action       text NOT NULL,
    target_type  text NOT NULL,
    target_id    uuid NOT NULL,
    reason       text,
    source       text,
    detail       jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_target ON audit_log (target_id, at);
