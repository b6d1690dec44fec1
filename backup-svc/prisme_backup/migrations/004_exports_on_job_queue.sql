-- Exports (K3) are chassis jobs (job_queue, chassis migration 004): restic runs outside any
-- database transaction. Exports still pending or left running get their job.
INSERT INTO job_queue (kind, idempotency_key, payload, max_attempts)
SELECT 'backup.export', 'export:' || id, jsonb_build_object('export_id', id::text), 6
FROM exports WHERE status IN ('pending', 'running')
ON CONFLICT (kind, idempotency_key) DO NOTHING;
