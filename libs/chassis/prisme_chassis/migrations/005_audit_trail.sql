-- O3: the audit trail of every state change, one table per service database, written in the
-- transaction of the change (prisme_chassis.audit.record). Who (actor: the token's sub, the
-- operator's name, or system:<what>), what (action, target), when (at: the platform clock),
-- from where (address, request id, trace id), why (reason), the practice concerned
-- (client_id) and the facts before and after (secrets redacted before they reach it).
CREATE TABLE audit_trail (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL,
    actor       text NOT NULL,
    actor_name  text,
    action      text NOT NULL,
    target_type text,
    target_id   text,
    client_id   uuid,
    reason      text,
    address     text,
    request_id  text,
    trace_id    text,
    before      jsonb,
    after       jsonb,
    detail      jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_trail_actor ON audit_trail (actor, id);
CREATE INDEX audit_trail_target ON audit_trail (target_id, id);
CREATE INDEX audit_trail_client ON audit_trail (client_id, id) WHERE client_id IS NOT NULL;
CREATE INDEX audit_trail_action ON audit_trail (action, id);
CREATE INDEX audit_trail_at ON audit_trail (at);
