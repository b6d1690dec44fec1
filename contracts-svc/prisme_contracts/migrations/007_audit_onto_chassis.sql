-- O3: the audit trail moves onto the chassis' audit_trail (chassis migration 005, applied
-- before the service's own migrations), keeping every row: its time, actor, address (the old
-- "source"), action, target and before/after; oldest first, so ids keep their order. The
-- service's own audit_log then goes: one trail per database.
INSERT INTO audit_trail (at, actor, actor_name, action, target_type, target_id, client_id,
                         address, before, after)
SELECT at, actor, CASE WHEN actor LIKE 'system:%' THEN 'système' END, action, entity_type,
       entity_id::text, client_id, source, before, after
  FROM audit_log
 ORDER BY id;
DROP TABLE audit_log;
