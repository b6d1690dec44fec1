-- O3: the dashboard's audit trail moves onto the chassis' audit_trail (chassis migration 005,
-- applied before the service's own migrations), keeping every row: time, actor (an operator's
-- id; a row without one was the system's, the command line's or an anonymous caller's),
-- action, target, address, request id, reason and detail; oldest first. The dashboard's own
-- audit table then goes: one trail per database.
INSERT INTO audit_trail (at, actor, actor_name, action, target_type, target_id, address,
                         request_id, reason, detail)
SELECT at,
       coalesce(actor_id, CASE actor_name
                              WHEN 'ligne de commande' THEN 'system:cli'
                              WHEN 'système' THEN 'system:dashboard'
                              ELSE 'system:' || actor_name
                          END, 'anonymous'),
       actor_name, action, target_type, target_id, address, request_id, reason, detail
  FROM audit
 ORDER BY id;
DROP TABLE audit;
