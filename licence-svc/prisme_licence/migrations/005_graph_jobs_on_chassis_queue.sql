-- The Graph work moves onto the chassis job queue (job_queue, chassis migration 004): the
-- jobs still open are carried over with their step and attempts, grouped by tenant and
-- serialised per account; the old table goes.
INSERT INTO job_queue (kind, idempotency_key, payload, state, attempts, max_attempts,
                       next_attempt_at, last_error, group_key, serial_key, created_at)
SELECT CASE j.kind WHEN 'provision' THEN 'licence.graph_provision' ELSE 'licence.graph_revoke' END,
       j.key,
       jsonb_build_object('account_id', j.account_id::text, 'step', j.step),
       'queued', j.attempts, 25, j.run_after, j.last_error, j.graph_tenant, j.account_id::text,
       j.created_at
FROM jobs j
WHERE j.status = 'queued'
ORDER BY j.id
ON CONFLICT (kind, idempotency_key) DO NOTHING;
DROP TABLE jobs;
