-- Stripe work moves onto the chassis job queue (job_queue, chassis migration 004): the calls
-- (stripe_jobs) and the processing of received events (webhook_events) become jobs with
-- back-off; the events themselves stay in a log of their own, unique on Stripe's event id.
CREATE TABLE stripe_events (
    event_id      text PRIMARY KEY,   -- Stripe's evt_… id
    type          text NOT NULL,
    payload       jsonb NOT NULL,
    received_via  text NOT NULL CHECK (received_via IN ('webhook', 'reconciliation')),
    received_at   timestamptz NOT NULL DEFAULT now(),
    processed_at  timestamptz
);

INSERT INTO stripe_events (event_id, type, payload, received_via, received_at, processed_at)
SELECT external_id, type, payload, received_via, received_at, processed_at
FROM webhook_events WHERE source = 'stripe';

-- Every event not processed yet gets a job with all its attempts, including those the old
-- worker gave up on after 20 immediate retries (they were lost; now they are processed).
INSERT INTO job_queue (kind, idempotency_key, payload, max_attempts, last_error)
SELECT 'billing.stripe_event', 'stripe_event:' || external_id,
       jsonb_build_object('event_id', external_id), 20, last_error
FROM webhook_events WHERE source = 'stripe' AND processed_at IS NULL
ON CONFLICT (kind, idempotency_key) DO NOTHING;

-- Stripe calls keep their state: pending → queued, failed → dead (an operator retries it
-- on /v1/jobs), done → succeeded (a closing job checks whether the push happened).
INSERT INTO job_queue (kind, idempotency_key, payload, max_attempts, state, attempts,
                       next_attempt_at, last_error, created_at, finished_at)
SELECT CASE kind WHEN 'push_invoice' THEN 'billing.stripe_push_invoice'
                 WHEN 'refund' THEN 'billing.stripe_refund'
                 ELSE 'billing.stripe_paid_out_of_band' END,
       CASE kind WHEN 'push_invoice' THEN 'invoice:' || document_id || ':push'
                 WHEN 'refund' THEN 'credit_note:' || document_id || ':refund'
                 ELSE 'invoice:' || document_id || ':paid_out_of_band' END,
       CASE kind WHEN 'refund' THEN jsonb_build_object('credit_note_id', document_id::text)
                 ELSE jsonb_build_object('document_id', document_id::text) END,
       20,
       CASE status WHEN 'pending' THEN 'queued' WHEN 'failed' THEN 'dead' ELSE 'succeeded' END,
       CASE status WHEN 'pending' THEN 0 ELSE attempts END,
       next_attempt_at, last_error, created_at,
       CASE status WHEN 'pending' THEN NULL ELSE coalesce(done_at, now()) END
FROM stripe_jobs
ON CONFLICT (kind, idempotency_key) DO NOTHING;

DROP TABLE stripe_jobs;
DROP TABLE webhook_events;
