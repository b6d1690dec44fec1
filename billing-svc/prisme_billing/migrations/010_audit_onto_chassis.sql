-- O3: billing's audit trail moves onto the chassis' audit_trail (chassis migration 005,
-- applied before the service's own migrations), keeping every row: time, actor and name,
-- action, target, reason, address (the old "source") and detail; oldest first. The service's
-- own audit_log then goes: one trail per database.
INSERT INTO audit_trail (at, actor, actor_name, action, target_type, target_id, reason,
                         address, detail)
SELECT at, actor, actor_name, action, target_type, target_id::text, reason, source, detail
  FROM audit_log
 ORDER BY id;
DROP TABLE audit_log;
