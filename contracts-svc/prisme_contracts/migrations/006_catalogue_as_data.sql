-- C1 as data: offers, what each includes and the maintenance levels ("niveau de prise en
-- charge", which the price depends on) are edited through the API (admin) and audited; a
-- contract records its level; partners list the services they provide (C3, the terms'
-- "Liste et prestations avec nos partenaires").
CREATE TABLE maintenance_levels (
    code        text PRIMARY KEY,
    label       text NOT NULL,
    description text NOT NULL DEFAULT '',
    position    int NOT NULL DEFAULT 0,
    is_default  boolean NOT NULL DEFAULT false
);
CREATE UNIQUE INDEX maintenance_levels_one_default ON maintenance_levels (is_default) WHERE is_default;

-- PRISME's published price (B1) is the default level.
INSERT INTO maintenance_levels (code, label, description, position, is_default) VALUES
('standard', 'Niveau standard', 'Niveau de prise en charge du tarif publié (B1)', 1, true);

ALTER TABLE contracts ADD COLUMN level text REFERENCES maintenance_levels(code);
UPDATE contracts SET level = 'standard';
ALTER TABLE contracts ALTER COLUMN level SET NOT NULL;
-- Rows written by SQL alone (seeding, benchmarks) get the seeded level; the service always
-- names the level it chose.
ALTER TABLE contracts ALTER COLUMN level SET DEFAULT 'standard';

ALTER TABLE partners ADD COLUMN services text[] NOT NULL DEFAULT '{}';
