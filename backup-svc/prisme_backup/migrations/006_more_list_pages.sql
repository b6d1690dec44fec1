-- Keyset pages (API 2.0), the rest of backup-svc's lists: a plan's agents, checks and purges,
-- newest first, each key with its unique tiebreaker. The new indexes lead with the columns of
-- agents_plan and checks_plan, which they replace.
CREATE INDEX agents_by_plan_enrolment ON agents (plan_id, enrolled_at DESC, id DESC);
DROP INDEX agents_plan;
CREATE INDEX checks_by_plan_check ON checks (plan_id, checked_at DESC, id DESC);
DROP INDEX checks_plan;
CREATE INDEX purges_by_plan ON purges (plan_id, purged_at DESC, id DESC);
