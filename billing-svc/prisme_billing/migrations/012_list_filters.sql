-- GET /v1/invoices and /v1/credit-notes page in number order (series_year, sequence) with
-- keyset cursors: each filter has an index that ends with that order, so a page is read in
-- index order and stops after limit + 1 rows (drafts are never listed).
CREATE INDEX documents_list_client ON documents (client_id, kind, series_year, sequence)
    WHERE status <> 'draft';
CREATE INDEX documents_list_status ON documents (kind, status, series_year, sequence)
    WHERE status <> 'draft';
CREATE INDEX documents_list_purpose ON documents (kind, purpose, series_year, sequence)
    WHERE status <> 'draft';
CREATE INDEX documents_list_issued ON documents (kind, issue_date) WHERE status <> 'draft';
-- the overdue filter: documents_unpaid_due (007) already holds unpaid invoices by due date

-- GET /v1/charges and /v1/approvals page oldest first by (created_at, id)
CREATE INDEX charges_list ON charges (status, created_at, id);
CREATE INDEX approvals_list ON approvals (status, created_at, id);
