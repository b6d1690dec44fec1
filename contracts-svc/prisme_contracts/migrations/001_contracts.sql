-- contracts-svc: practices, inventory, offers catalogue, eligibility, contracts (C1-C6).

CREATE TABLE offers (
    code        text PRIMARY KEY,
    label       text NOT NULL,
    includes    text[] NOT NULL,
    position    int NOT NULL DEFAULT 0
);

-- C1: what each offer includes, from the terms (seed/000_*.txt). Items marked
-- "compris dans l'infogérance PRISME uniquement" belong to prisme only.
INSERT INTO offers (code, label, includes, position) VALUES
('sav_sauvegarde', 'SAV illimité + sauvegarde', ARRAY[
    'remote_support_unlimited',
    'system_network_maintenance',
    'video_recordings',
    'surveillance_electrical_maintenance',
    'peripheral_imaging_phone_maintenance',
    'payment_terminal_maintenance'
], 1),
('prisme', 'Infogérance PRISME', ARRAY[
    'remote_support_unlimited',
    'system_network_maintenance',
    'preventive_maintenance',
    'gdpr_compliance',
    'video_recordings',
    'microsoft_365',
    'cloud_backup',
    'surveillance_electrical_maintenance',
    'peripheral_imaging_phone_maintenance',
    'reinforced_antivirus',
    'teletransmission_mailbox',
    'payment_terminal_maintenance'
], 2);

CREATE TABLE partners (
    name        text PRIMARY KEY,
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  text NOT NULL
);

CREATE TABLE clients (
    id              uuid PRIMARY KEY,
    name            text NOT NULL,
    siren           text NOT NULL,
    manager_name    text NOT NULL,
    manager_email   text NOT NULL,
    manager_phone   text NOT NULL,
    line1           text NOT NULL,
    postal_code     text NOT NULL,
    city            text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX clients_siren ON clients (siren);

CREATE TABLE client_users (
    id          uuid PRIMARY KEY,
    client_id   uuid NOT NULL REFERENCES clients(id),
    first_name  text NOT NULL,
    last_name   text NOT NULL,
    email       text NOT NULL,
    role        text NOT NULL CHECK (role IN ('practitioner', 'assistant', 'secretary', 'employee')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    removed_at  timestamptz
);
CREATE UNIQUE INDEX client_users_email_key ON client_users (client_id, lower(email)) WHERE removed_at IS NULL;
CREATE INDEX client_users_client ON client_users (client_id) WHERE removed_at IS NULL;

CREATE TABLE networks (
    client_id       uuid PRIMARY KEY REFERENCES clients(id),
    lan_count       int NOT NULL CHECK (lan_count >= 0),
    download_mbps   int NOT NULL CHECK (download_mbps >= 0),
    upload_mbps     int NOT NULL CHECK (upload_mbps >= 0),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE assets (
    id          uuid PRIMARY KEY,
    client_id   uuid NOT NULL REFERENCES clients(id),
    name        text NOT NULL,
    function    text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('server', 'workstation', 'peripheral')),
    form        text NOT NULL CHECK (form IN ('physical', 'virtual')),
    os          text NOT NULL,
    supplied_by text NOT NULL CHECK (supplied_by IN ('provider', 'partner', 'third_party')),
    partner     text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    removed_at  timestamptz
);
-- C5: names are unique within a practice.
CREATE UNIQUE INDEX assets_name_key ON assets (client_id, lower(name)) WHERE removed_at IS NULL;
CREATE INDEX assets_client ON assets (client_id) WHERE removed_at IS NULL;

-- C3: an operator's explicit, audited override of a failed eligibility.
CREATE TABLE eligibility_overrides (
    id          uuid PRIMARY KEY,
    client_id   uuid NOT NULL REFERENCES clients(id),
    reason      text NOT NULL,
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_by  text,
    revoked_at  timestamptz
);
CREATE UNIQUE INDEX eligibility_overrides_active ON eligibility_overrides (client_id) WHERE revoked_at IS NULL;

CREATE TABLE contracts (
    id              uuid PRIMARY KEY,
    client_id       uuid NOT NULL REFERENCES clients(id),
    offer           text NOT NULL REFERENCES offers(code),
    year            int NOT NULL,
    start_date      date NOT NULL,
    end_date        date NOT NULL,
    status          text NOT NULL CHECK (status IN ('draft', 'active', 'ended', 'cancelled')),
    version         int NOT NULL DEFAULT 1,
    non_conforming  boolean NOT NULL DEFAULT false,
    renewal_of      uuid REFERENCES contracts(id),
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    activated_at    timestamptz,
    end_reason      text CHECK (end_reason IN ('year_end', 'cessation')),
    ended_on        date,
    ended_at        timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (start_date <= end_date AND extract(year FROM start_date) = year)
);
-- One live (draft or active) contract per client and year.
CREATE UNIQUE INDEX contracts_live_per_year ON contracts (client_id, year) WHERE status IN ('draft', 'active');
CREATE INDEX contracts_year_status ON contracts (year, status, id);
CREATE INDEX contracts_client ON contracts (client_id);

-- C5: every change of an active contract's inventory is a technician intervention + amendment.
CREATE TABLE interventions (
    id              uuid PRIMARY KEY,
    client_id       uuid NOT NULL REFERENCES clients(id),
    technician      text NOT NULL,
    performed_at    timestamptz NOT NULL DEFAULT now(),
    description     text NOT NULL
);

CREATE TABLE amendments (
    id              uuid PRIMARY KEY,
    contract_id     uuid NOT NULL REFERENCES contracts(id),
    intervention_id uuid NOT NULL REFERENCES interventions(id),
    effective_date  date NOT NULL,
    changes         jsonb NOT NULL,
    postes_before   int NOT NULL,
    postes_after    int NOT NULL,
    version         int NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX amendments_contract ON amendments (contract_id);

-- C6: cessation of activity, proven by an official document, approved by another operator.
CREATE TABLE terminations (
    id                  uuid PRIMARY KEY,
    contract_id         uuid NOT NULL REFERENCES contracts(id),
    reason              text NOT NULL CHECK (reason = 'cessation'),
    effective_date      date NOT NULL,
    status              text NOT NULL CHECK (status IN ('pending', 'approved')),
    document            bytea NOT NULL,
    document_type       text NOT NULL,
    document_name       text,
    document_size       int NOT NULL,
    document_sha256     text NOT NULL,
    requested_by        text NOT NULL,
    requested_at        timestamptz NOT NULL DEFAULT now(),
    approved_by         text,
    approved_at         timestamptz
);
CREATE UNIQUE INDEX terminations_pending ON terminations (contract_id) WHERE status = 'pending';

-- Year-end runs (C2): one row per closed year, with progress counters.
CREATE TABLE year_end_runs (
    year            int PRIMARY KEY,
    status          text NOT NULL CHECK (status IN ('running', 'done')),
    started_by      text NOT NULL,
    started_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    ended_count     int NOT NULL DEFAULT 0,
    batches         int NOT NULL DEFAULT 0
);

-- Audit trail of every change (who, what, when, from where, before/after).
CREATE TABLE audit_log (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text NOT NULL,
    source      text,
    action      text NOT NULL,
    entity_type text NOT NULL,
    entity_id   uuid,
    client_id   uuid,
    before      jsonb,
    after       jsonb
);
CREATE INDEX audit_log_entity ON audit_log (entity_id, id);
CREATE INDEX audit_log_client ON audit_log (client_id, id);
