-- C7: every remote or on-site intervention is recorded, not only inventory changes (C5).
ALTER TABLE interventions
    ADD COLUMN kind text NOT NULL DEFAULT 'inventory' CHECK (kind IN ('inventory', 'service')),
    ADD COLUMN started_at timestamptz,
    ADD COLUMN duration_minutes integer CHECK (duration_minutes > 0),
    ADD COLUMN mode text CHECK (mode IN ('remote', 'on_site')),
    ADD COLUMN zone text,
    ADD COLUMN billable jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN video_id uuid,
    ADD COLUMN contract_id uuid REFERENCES contracts(id),
    ADD COLUMN recorded_by text;

UPDATE interventions SET started_at = performed_at WHERE started_at IS NULL;
ALTER TABLE interventions ALTER COLUMN started_at SET NOT NULL;
ALTER TABLE interventions ALTER COLUMN started_at SET DEFAULT now();

CREATE INDEX interventions_by_client ON interventions (client_id, started_at DESC, id DESC);
CREATE INDEX interventions_by_start ON interventions (started_at DESC, id DESC);
