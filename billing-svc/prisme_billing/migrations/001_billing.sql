-- billing-svc schema (DESIGN.md B1-B8). Money is numeric(12,2), times are timestamptz.

-- B1: the price book is versioned; a PUT writes a new version, invoices keep the one they used.
CREATE TABLE price_book_versions (
    version     integer PRIMARY KEY,
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  text NOT NULL
);

CREATE TABLE price_book_entries (
    version          integer NOT NULL REFERENCES price_book_versions (version),
    offer            text NOT NULL,
    label            text NOT NULL,
    base_ttc         numeric(12, 2) NOT NULL CHECK (base_ttc >= 0),
    included_postes  integer NOT NULL CHECK (included_postes >= 0),
    extra_poste_ttc  numeric(12, 2) NOT NULL CHECK (extra_poste_ttc >= 0),
    PRIMARY KEY (version, offer)
);

INSERT INTO price_book_versions (version, created_by) VALUES (1, 'migration');
INSERT INTO price_book_entries VALUES (1, 'prisme', 'Infogérance PRISME', 3480.00, 6, 348.00);

-- Buyers as last seen on contract events, and their Stripe customer.
CREATE TABLE clients (
    client_id           uuid PRIMARY KEY,
    name                text NOT NULL,
    siren               text NOT NULL,
    address_line1       text NOT NULL,
    postal_code         text NOT NULL,
    city                text NOT NULL,
    manager_name        text NOT NULL,
    email               text NOT NULL,
    stripe_customer_id  text UNIQUE,
    updated_at          timestamptz NOT NULL DEFAULT now()
);

-- billing's view of a contract; ``version`` is the highest contract version applied.
CREATE TABLE contracts (
    contract_id     uuid PRIMARY KEY,
    client_id       uuid NOT NULL,
    offer           text NOT NULL,
    year            integer NOT NULL,
    start_date      date,
    postes          integer,
    version         integer NOT NULL,
    status          text NOT NULL CHECK (status IN ('active', 'ended')),
    end_reason      text,
    end_effective   date,
    activated_seen  boolean NOT NULL DEFAULT false,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Charges waiting to be invoiced: an activation/amendment whose offer has no price yet (B1).
CREATE TABLE charges (
    id              uuid PRIMARY KEY,
    source_key      text NOT NULL UNIQUE,          -- 'activation:<contract>' | 'amendment:<id>'
    kind            text NOT NULL CHECK (kind IN ('activation', 'amendment')),
    contract_id     uuid NOT NULL,
    client_id       uuid NOT NULL,
    offer           text NOT NULL,
    postes_before   integer NOT NULL,
    postes          integer NOT NULL,
    effective_date  date NOT NULL,
    status          text NOT NULL CHECK (status IN ('awaiting_price', 'invoiced', 'nothing_due')),
    invoice_id      uuid,
    created_at      timestamptz NOT NULL DEFAULT now(),
    resolved_at     timestamptz
);
CREATE INDEX charges_awaiting ON charges (offer) WHERE status = 'awaiting_price';

-- B6: one counter row per series and year, locked FOR UPDATE by the finalising transaction.
CREATE TABLE number_series (
    kind  text NOT NULL CHECK (kind IN ('invoice', 'credit_note')),
    year  integer NOT NULL,
    last  integer NOT NULL DEFAULT 0,
    PRIMARY KEY (kind, year)
);

-- Invoices and credit notes share one table; a credit note points at its invoice.
CREATE TABLE documents (
    id                  uuid PRIMARY KEY,
    kind                text NOT NULL CHECK (kind IN ('invoice', 'credit_note')),
    invoice_id          uuid REFERENCES documents (id),
    contract_id         uuid NOT NULL,
    client_id           uuid NOT NULL REFERENCES clients (client_id),
    price_book_version  integer REFERENCES price_book_versions (version),
    status              text NOT NULL
        CHECK (status IN ('draft', 'open', 'paid', 'payment_failed', 'credited', 'issued')),
    number              text UNIQUE,
    series_year         integer,
    sequence            integer,
    issue_date          date,
    due_date            date,
    finalised_at        timestamptz,
    currency            text NOT NULL DEFAULT 'EUR',
    total_ht            numeric(12, 2) NOT NULL DEFAULT 0,
    total_vat           numeric(12, 2) NOT NULL DEFAULT 0,
    total_ttc           numeric(12, 2) NOT NULL DEFAULT 0,
    amount_paid         numeric(12, 2) NOT NULL DEFAULT 0,
    amount_refunded     numeric(12, 2) NOT NULL DEFAULT 0,
    buyer               jsonb NOT NULL,
    stripe_invoice_id   text UNIQUE,
    created_at          timestamptz NOT NULL DEFAULT now(),
    CHECK ((number IS NULL) = (status = 'draft')),
    UNIQUE (kind, series_year, sequence)
);
CREATE INDEX documents_contract ON documents (contract_id);
CREATE INDEX documents_client ON documents (client_id);
-- B5: at most one cessation credit note per invoice.
CREATE UNIQUE INDEX one_credit_note_per_invoice ON documents (invoice_id) WHERE kind = 'credit_note';

CREATE TABLE document_lines (
    document_id   uuid NOT NULL REFERENCES documents (id),
    position      integer NOT NULL,
    description   text NOT NULL,
    quantity      integer NOT NULL,
    yearly_ttc    numeric(12, 2) NOT NULL,
    unit_ttc      numeric(12, 2) NOT NULL,
    period_start  date NOT NULL,
    period_end    date NOT NULL,
    total_ht      numeric(12, 2) NOT NULL,
    total_vat     numeric(12, 2) NOT NULL,
    total_ttc     numeric(12, 2) NOT NULL,
    PRIMARY KEY (document_id, position),
    CHECK (total_ht + total_vat = total_ttc)
);

-- B6: a finalised document is never edited.
CREATE FUNCTION forbid_finalised_edit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'document_lines' THEN
        IF EXISTS (SELECT 1 FROM documents WHERE id = OLD.document_id AND status <> 'draft') THEN
            RAISE EXCEPTION 'finalised document % is immutable', OLD.document_id;
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.status <> 'draft' AND (
        NEW.number IS DISTINCT FROM OLD.number OR NEW.issue_date IS DISTINCT FROM OLD.issue_date
        OR NEW.total_ttc IS DISTINCT FROM OLD.total_ttc OR NEW.total_ht IS DISTINCT FROM OLD.total_ht
        OR NEW.total_vat IS DISTINCT FROM OLD.total_vat OR NEW.buyer IS DISTINCT FROM OLD.buyer
        OR NEW.due_date IS DISTINCT FROM OLD.due_date OR NEW.kind IS DISTINCT FROM OLD.kind
    ) THEN
        RAISE EXCEPTION 'finalised document % is immutable', OLD.id;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'finalised document % is immutable', OLD.id;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER documents_immutable BEFORE UPDATE ON documents
    FOR EACH ROW EXECUTE FUNCTION forbid_finalised_edit();
CREATE TRIGGER document_lines_immutable BEFORE UPDATE OR DELETE ON document_lines
    FOR EACH ROW EXECUTE FUNCTION forbid_finalised_edit();

-- The rendered Factur-X, frozen at first rendering.
CREATE TABLE document_files (
    document_id  uuid PRIMARY KEY REFERENCES documents (id),
    pdf          bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- Payments: manual (transfer, cheque) or Stripe (card, sepa_debit).
CREATE TABLE payments (
    id           uuid PRIMARY KEY,
    invoice_id   uuid NOT NULL REFERENCES documents (id),
    method       text NOT NULL CHECK (method IN ('card', 'sepa_debit', 'bank_transfer', 'cheque', 'stripe')),
    amount       numeric(12, 2) NOT NULL CHECK (amount > 0),
    paid_on      date NOT NULL,
    reference    text,
    external_id  text UNIQUE,                 -- Stripe invoice id once paid through Stripe
    recorded_by  text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE payment_failures (
    external_id  text PRIMARY KEY,            -- the Stripe event id: one failure event, one effect
    invoice_id   uuid NOT NULL REFERENCES documents (id),
    reason       text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE refunds (
    id                uuid PRIMARY KEY,
    credit_note_id    uuid NOT NULL UNIQUE REFERENCES documents (id),
    invoice_id        uuid NOT NULL REFERENCES documents (id),
    amount            numeric(12, 2) NOT NULL CHECK (amount > 0),
    status            text NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    stripe_refund_id  text UNIQUE,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);

-- Durable Stripe work: written in the business transaction, run by a worker.
CREATE TABLE stripe_jobs (
    id               uuid PRIMARY KEY,
    kind             text NOT NULL CHECK (kind IN ('push_invoice', 'refund')),
    document_id      uuid NOT NULL REFERENCES documents (id),
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    done_at          timestamptz,
    UNIQUE (kind, document_id)
);
CREATE INDEX stripe_jobs_due ON stripe_jobs (next_attempt_at) WHERE status = 'pending';

-- Inbound webhooks (B8, R3): stored once under (source, external_id), processed by a worker.
CREATE TABLE webhook_events (
    id            bigserial PRIMARY KEY,
    source        text NOT NULL,
    external_id   text NOT NULL,
    type          text NOT NULL,
    payload       jsonb NOT NULL,
    received_via  text NOT NULL CHECK (received_via IN ('webhook', 'reconciliation')),
    received_at   timestamptz NOT NULL DEFAULT now(),
    processed_at  timestamptz,
    attempts      integer NOT NULL DEFAULT 0,
    last_error    text,
    UNIQUE (source, external_id)
);
CREATE INDEX webhook_events_pending ON webhook_events (id) WHERE processed_at IS NULL;

CREATE TABLE reconciliation_state (
    source      text PRIMARY KEY,
    checked_to  bigint NOT NULL,              -- unix time of the newest event seen
    updated_at  timestamptz NOT NULL DEFAULT now()
);
