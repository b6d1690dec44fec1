-- Issue 14: lines an accountant can check. A line bills ``quantity`` × ``unit_ttc`` (unit price
-- HT beside it); a prorated line bills quantity 1 of its period's share of ``yearly_ttc`` and
-- says so in ``prorata`` ("292 jours sur 365, du 15/03/2026 au 31/12/2026"). One-off lines
-- (B9) bill hours or flat fees, so quantities may have decimals and no yearly price.
ALTER TABLE document_lines ALTER COLUMN quantity TYPE numeric(12, 2);
ALTER TABLE document_lines ALTER COLUMN yearly_ttc DROP NOT NULL;
ALTER TABLE document_lines
    ADD COLUMN unit_code text NOT NULL DEFAULT 'C62' CHECK (unit_code IN ('C62', 'HUR')),
    ADD COLUMN unit_ht numeric(12, 2),
    ADD COLUMN postes integer,
    ADD COLUMN prorata text;

-- Lines written before: ``quantity`` held the number of postes and ``unit_ttc`` the line total.
-- Finalised lines are immutable (trigger); this one-time rewrite gives them the new meaning.
ALTER TABLE document_lines DISABLE TRIGGER document_lines_immutable;
UPDATE document_lines l SET
    postes = CASE WHEN d.kind = 'invoice' AND l.description NOT LIKE '%ajout de%'
                  THEN l.quantity::integer END,
    quantity = 1,
    unit_ttc = l.total_ttc,
    unit_ht = l.total_ht,
    prorata = (l.period_end - l.period_start + 1) || ' jours sur '
        || (make_date(extract(year FROM l.period_end)::integer, 12, 31)
            - make_date(extract(year FROM l.period_end)::integer, 1, 1) + 1)
        || ', du ' || to_char(l.period_start, 'DD/MM/YYYY')
        || ' au ' || to_char(l.period_end, 'DD/MM/YYYY')
FROM documents d WHERE d.id = l.document_id;
ALTER TABLE document_lines ENABLE TRIGGER document_lines_immutable;
ALTER TABLE document_lines ALTER COLUMN unit_ht SET NOT NULL;
