-- A manual payment (transfer, cheque) closes the Stripe invoice as paid out of band.
ALTER TABLE stripe_jobs DROP CONSTRAINT stripe_jobs_kind_check;
ALTER TABLE stripe_jobs ADD CONSTRAINT stripe_jobs_kind_check
    CHECK (kind IN ('push_invoice', 'refund', 'paid_out_of_band'));
