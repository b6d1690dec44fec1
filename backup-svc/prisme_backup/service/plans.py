"""Plans: created and ended by contract events (K1, K3), edited by operators."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import asyncpg
from prisme_chassis import audit, clock
from prisme_events import ContractActivated, ContractCancelled, ContractEnded, ContractEvent
from prisme_events.projection import ContractProjection, project

from .. import domain, errors, repository, tokens
from ..sealed import seal_repository_password
from . import access
from .context import Backups


async def _project(conn: asyncpg.Connection, event: ContractEvent) -> ContractProjection | None:
    """Read the stored contract, project the event (prisme_events.projection), write it back;
    ``None`` when the event changes nothing (duplicate or stale)."""
    row = await repository.locked_contract(conn, event.contract_id)
    stored = None
    if row is not None:
        stored = ContractProjection.from_stored(
            row["contract_id"],
            row["client_id"],
            row["version"],
            row["status"],
            year=row["year"],
            includes=(domain.CLOUD_BACKUP,) if row["includes_backup"] else (),
        )
    projected = project(stored, event)
    if projected is not None:
        assert projected.year is not None  # every event carries it
        await repository.save_contract(
            conn,
            contract_id=projected.contract_id,
            client_id=projected.client_id,
            version=projected.version,
            status=projected.status,
            includes_backup=domain.includes_backup(list(projected.includes)),
            year=projected.year,
        )
    return projected


async def on_contract_activated(
    conn: asyncpg.Connection, ctx: Backups, event: ContractActivated, now: datetime | None = None
) -> None:
    """K1: a practice whose contract includes the cloud backup gets its plan (idempotent)."""
    now = now or clock.now()
    projected = await _project(conn, event)
    if projected is None or projected.status != "active":
        return  # duplicate, or the contract already ended (contract.ended came first)
    if not domain.includes_backup(list(projected.includes)):
        return  # an offer without backup
    plan = await repository.plan_for_client(conn, event.client_id)
    expected_from = domain.first_due_day(now, domain.DEFAULT_DAILY_AT)
    if plan is None:
        plan_id = uuid.uuid4()
        user = access.new_user()
        await repository.insert_plan(
            conn,
            plan_id=plan_id,
            client_id=event.client_id,
            client_name=event.client.name,
            contract_id=event.contract_id,
            quota_bytes=ctx.quota_bytes,
            history_days=domain.HISTORY_DAYS,
            daily_at=domain.DEFAULT_DAILY_AT,
            check_parts=domain.DEFAULT_CHECK_PARTS,
            restore_every_days=domain.DEFAULT_RESTORE_EVERY_DAYS,
            repository_user=user,
            repository_location=access.location_for(ctx, user),
            repository_password=seal_repository_password(
                ctx.keyring, plan_id, tokens.new_repository_password()
            ),
            expected_from=expected_from,
        )
        await _audit_plan(conn, event, "backup.plan_created", plan_id, "none")
        return
    if plan["status"] == "active":
        if plan["contract_id"] != event.contract_id:
            # A renewal (C2) keeps the practice's plan and repository: history continues.
            await repository.reactivate_plan(
                conn,
                plan["id"],
                contract_id=event.contract_id,
                client_name=event.client.name,
                expected_from=None,
            )
            await _audit_plan(conn, event, "backup.plan_renewed", plan["id"], "active")
        return
    if plan["status"] == "ended":
        # A new contract before the purge: the copies are still there, carry on with them.
        await repository.reactivate_plan(
            conn,
            plan["id"],
            contract_id=event.contract_id,
            client_name=event.client.name,
            expected_from=expected_from,
        )
        await _audit_plan(conn, event, "backup.plan_reactivated", plan["id"], "ended")
        return
    # Purged: the old repository is gone, start a new one (new user) with a new password.
    user = access.new_user()
    await repository.reactivate_plan(
        conn,
        plan["id"],
        contract_id=event.contract_id,
        client_name=event.client.name,
        expected_from=expected_from,
        repository_location=access.location_for(ctx, user),
        repository_user=user,
        repository_password=seal_repository_password(
            ctx.keyring, plan["id"], tokens.new_repository_password()
        ),
    )
    await _audit_plan(conn, event, "backup.plan_reactivated", plan["id"], plan["status"])


async def _audit_plan(
    conn: asyncpg.Connection,
    event: ContractEvent,
    action: str,
    plan_id: uuid.UUID,
    status_before: str,
    **detail: Any,
) -> None:
    """O3: the plan's change, by the contract event that caused it."""
    await audit.record(
        conn,
        audit.Actor.event(event),
        action,
        target_type="backup_plan",
        target_id=plan_id,
        client_id=event.client_id,
        before={"status": status_before},
        detail={"contract_id": event.contract_id, **detail},
    )


async def on_contract_ended(
    conn: asyncpg.Connection, ctx: Backups, event: ContractEnded, now: datetime | None = None
) -> None:
    """K3: scheduling stops, the agent's credentials stop working at once (the API credential
    and the plan's user on the repository server), purge is planned."""
    now = now or clock.now()
    projected = await _project(conn, event)
    if projected is None or projected.terminal_version != event.version:
        return  # duplicate, or not the event that ended the contract
    plan = await repository.plan_for_client(conn, event.client_id)
    if plan is None or plan["status"] != "active" or plan["contract_id"] != event.contract_id:
        return  # no plan, already ended, or the practice already moved on to a newer contract
    if (
        event.renewal_contract_id is not None
        and domain.includes_backup(event.renewal_includes)
        and await repository.contract_status(conn, event.renewal_contract_id) != "cancelled"
    ):
        return  # renewed with the backup: the mirror carries over without interruption
    await repository.end_plan(
        conn,
        plan["id"],
        last_day=event.effective_date,
        ended_at=event.ended_at,
        purge_after=domain.purge_after(event.effective_date, plan["history_days"]),
    )
    agents = await repository.revoke_agents(conn, plan["id"], now)
    await access.publish_users(conn, ctx)
    await _audit_plan(
        conn,
        event,
        "backup.plan_ended",
        plan["id"],
        "active",
        last_day=event.effective_date,
        agents_revoked=agents,
    )


async def on_contract_cancelled(
    conn: asyncpg.Connection, ctx: Backups, event: ContractCancelled, now: datetime | None = None
) -> None:
    """C8/K3: the renewal draft the plan was carried over for is cancelled (or expired
    unactivated): the plan stops as it would have at ``contract.ended``."""
    now = now or clock.now()
    projected = await _project(conn, event)
    if projected is None or projected.terminal_version != event.version:
        return  # duplicate, or not the event that ended the contract
    if event.renewal_of is None:
        return
    plan = await repository.plan_for_client(conn, event.client_id)
    if plan is None or plan["status"] != "active" or plan["contract_id"] != event.renewal_of:
        return  # no plan, already stopped, or a newer contract took it over
    if await repository.contract_status(conn, event.renewal_of) != "ended":
        return  # the old contract still runs; its contract.ended will stop the plan
    last_day = domain.business_day(event.cancelled_at)
    await repository.end_plan(
        conn,
        plan["id"],
        last_day=last_day,
        ended_at=event.cancelled_at,
        purge_after=domain.purge_after(last_day, plan["history_days"]),
    )
    agents = await repository.revoke_agents(conn, plan["id"], now)
    await access.publish_users(conn, ctx)
    await _audit_plan(
        conn,
        event,
        "backup.plan_ended",
        plan["id"],
        "active",
        last_day=last_day,
        agents_revoked=agents,
    )


async def get_plan(conn: asyncpg.Connection, plan_id: uuid.UUID) -> asyncpg.Record:
    plan = await repository.get_plan(conn, plan_id)
    if plan is None:
        raise errors.PlanNotFound(f"no backup plan {plan_id}")
    return plan


async def edit_plan(
    conn: asyncpg.Connection, plan_id: uuid.UUID, changes: dict[str, Any]
) -> asyncpg.Record:
    """Operators edit the sources and the schedule of a live plan."""
    plan = await repository.get_plan(conn, plan_id, lock=True)
    if plan is None:
        raise errors.PlanNotFound(f"no backup plan {plan_id}")
    if plan["status"] != "active":
        raise errors.PlanNotEditable(f"the plan is {plan['status']}; it can no longer be edited")
    if not changes:
        return plan
    if "quota_bytes" in changes:
        await repository.mark_maintenance_due(conn, plan_id)  # re-measure against the new quota
    return await repository.update_plan(conn, plan_id, changes)


async def issue_enrolment_token(
    conn: asyncpg.Connection, ctx: Backups, plan_id: uuid.UUID, actor: str
) -> tuple[str, datetime]:
    """A one-time token for installing the agent; shown once, only its hash is kept."""
    plan = await repository.get_plan(conn, plan_id, lock=True)
    if plan is None:
        raise errors.PlanNotFound(f"no backup plan {plan_id}")
    if plan["status"] != "active":
        raise errors.PlanNotEnrollable(f"the plan is {plan['status']}; no agent can enrol")
    token = tokens.new_token()
    expires_at = clock.now() + timedelta(hours=ctx.enrolment_ttl_hours)
    await repository.insert_enrolment_token(
        conn,
        plan_id=plan_id,
        token_hash=tokens.token_hash(token),
        expires_at=expires_at,
        created_by=actor,
    )
    return token, expires_at
