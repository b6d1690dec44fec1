-- GET /v1/invoices/totals and /v1/credit-notes/totals (the Facturation page's count, sum and
-- outstanding, P7): without a filter they read every listed document; this index holds the
-- three columns they add, so the sums are an index-only scan, not a read of every row.
CREATE INDEX documents_totals ON documents (kind, status) INCLUDE (total_ttc, amount_paid)
    WHERE status <> 'draft';
