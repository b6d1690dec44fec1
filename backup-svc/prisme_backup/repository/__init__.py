"""All SQL of backup-svc, one module per aggregate. Functions take the caller's connection."""

from .agents import (
    active_agent,
    consume_enrolment_token,
    insert_agent,
    insert_enrolment_token,
    revoke_agents,
)
from .alerts import list_alerts, raise_alert, resolve_alerts
from .contracts import contract_status, locked_contract, save_contract
from .exports import finish_export, get_export, insert_export, mark_export_running
from .histories import HISTORIES, newest_of_plan
from .plans import (
    end_plan,
    finish_maintenance,
    get_plan,
    insert_plan,
    list_plans,
    mark_maintenance_due,
    plan_due_for_maintenance,
    plan_for_client,
    plans_to_watch,
    reactivate_plan,
    repository_users,
    set_repository_user_hash,
    update_plan,
)
from .purges import mark_purged, plans_due_for_purge
from .rows import Row
from .runs import (
    covered_days,
    insert_check,
    insert_run,
    owner_of_check,
    owner_of_run,
    run_of_agent,
)
from .snapshots import forget_snapshots, insert_snapshot, list_snapshots

__all__ = [
    "HISTORIES",
    "Row",
    "active_agent",
    "consume_enrolment_token",
    "contract_status",
    "covered_days",
    "end_plan",
    "finish_export",
    "finish_maintenance",
    "forget_snapshots",
    "get_export",
    "get_plan",
    "insert_agent",
    "insert_check",
    "insert_enrolment_token",
    "insert_export",
    "insert_plan",
    "insert_run",
    "insert_snapshot",
    "list_alerts",
    "list_plans",
    "list_snapshots",
    "locked_contract",
    "mark_export_running",
    "mark_maintenance_due",
    "mark_purged",
    "newest_of_plan",
    "owner_of_check",
    "owner_of_run",
    "plan_due_for_maintenance",
    "plan_for_client",
    "plans_due_for_purge",
    "plans_to_watch",
    "raise_alert",
    "reactivate_plan",
    "repository_users",
    "resolve_alerts",
    "revoke_agents",
    "run_of_agent",
    "save_contract",
    "set_repository_user_hash",
    "update_plan",
]
