-- An item whose effect fails as an infrastructure error would (a refused connection).
ALTER TABLE items ADD COLUMN infra_fail boolean NOT NULL DEFAULT false;
