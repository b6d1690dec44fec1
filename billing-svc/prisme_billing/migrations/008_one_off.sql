-- B9: one-off work (on-site travel per zone, work outside the contract) from
-- intervention.recorded, priced from the price book's items, invoiced per practice and month.
CREATE TABLE price_items (
    code        text PRIMARY KEY,              -- e.g. deplacement_sud, travail_horaire
    label       text NOT NULL,
    unit_code   text NOT NULL CHECK (unit_code IN ('C62', 'HUR')),
    unit_ttc    numeric(12, 2) NOT NULL CHECK (unit_ttc >= 0),
    updated_by  text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE one_off_items (
    intervention_id  uuid NOT NULL,
    position         integer NOT NULL,
    client_id        uuid NOT NULL,
    contract_id      uuid,
    month            date NOT NULL,               -- first day of the month of the work
    done_on          date NOT NULL,
    kind             text NOT NULL CHECK (kind IN ('travel', 'work')),
    price_code       text NOT NULL,
    quantity         numeric(12, 2) NOT NULL CHECK (quantity > 0),
    zone             text,
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'invoiced')),
    invoice_id       uuid REFERENCES documents (id),
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (intervention_id, position)
);
CREATE INDEX one_off_pending ON one_off_items (month, client_id) WHERE status = 'pending';

-- A practice's monthly one-off invoice need not belong to a contract.
ALTER TABLE documents ALTER COLUMN contract_id DROP NOT NULL;
