"""The agent-facing use cases: enrolment, authentication, plan, run and check reports."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg
from prisme_chassis import clock
from prisme_chassis.bus import enqueue, next_version
from prisme_events import BackupSnapshotCompleted

from .. import domain, errors, repository, tokens
from ..agent.protocol import (
    AgentPlan,
    CheckReport,
    DatabaseSourceSpec,
    EnrolResponse,
    RepositorySpec,
    RunReport,
)
from ..sealed import open_repository_password
from . import access
from .alerts import raise_check_failed, raise_missed
from .context import Backups


@dataclass(frozen=True)
class AgentIdentity:
    agent_id: uuid.UUID
    plan_id: uuid.UUID


async def enrol(
    conn: asyncpg.Connection,
    ctx: Backups,
    token: str,
    hostname: str,
    now: datetime | None = None,
) -> EnrolResponse:
    """Trade a one-time token for the agent's credential and the plan's repository user (a new
    password: the previous agent's access to the repository ends too); a new agent replaces
    the old one. The caller commits, then publishes the users file and waits for the
    repository server to know the user (:func:`finish_enrolment`) before answering."""
    now = now or clock.now()
    plan_id = await repository.consume_enrolment_token(conn, tokens.token_hash(token), now)
    if plan_id is None:
        raise errors.EnrolmentTokenRefused("unknown, used or expired enrolment token")
    await repository.revoke_agents(conn, plan_id, now)
    credential = tokens.new_token()
    agent_id = uuid.uuid4()
    await repository.insert_agent(
        conn,
        agent_id=agent_id,
        plan_id=plan_id,
        hostname=hostname,
        credential_hash=tokens.token_hash(credential),
    )
    plan = await repository.get_plan(conn, plan_id, lock=True)
    assert plan is not None
    repository_access, digest = access.new_access(plan["repository_user"])
    await repository.set_repository_user_hash(conn, plan_id, digest)
    # the users file is written after the commit (access.publish_committed, by the edge)
    return EnrolResponse(
        agent_id=agent_id,
        plan_id=plan_id,
        credential=credential,
        repository_access=repository_access,
    )


async def finish_enrolment(pool: asyncpg.Pool, ctx: Backups, enrolled: EnrolResponse) -> None:
    """After the enrolment committed: the users file from the committed rows, then wait until
    the repository server accepts the new password, so the agent's first ``restic init``
    is never refused."""
    await access.publish_committed(pool, ctx)
    await access.wait_until_known(ctx, enrolled.repository_access)


async def authenticate(conn: asyncpg.Connection, credential: str) -> AgentIdentity:
    """The agent holding ``credential``; refused once revoked or once its plan ended (K3)."""
    row = await repository.active_agent(conn, tokens.token_hash(credential))
    if row is None:
        raise errors.AgentCredentialsRefused("unknown or revoked agent credentials")
    return AgentIdentity(agent_id=row["agent_id"], plan_id=row["plan_id"])


async def plan_for_agent(conn: asyncpg.Connection, ctx: Backups, who: AgentIdentity) -> AgentPlan:
    plan = await repository.get_plan(conn, who.plan_id)
    if plan is None:
        raise errors.PlanNotFound("plan not found")
    databases = plan["databases"]  # jsonb, decoded by the chassis pool's codec
    return AgentPlan(
        plan_id=plan["id"],
        client_id=plan["client_id"],
        databases=[DatabaseSourceSpec.model_validate(d) for d in databases],
        share_path=plan["share_path"],
        daily_at=plan["daily_at"],
        timezone=str(domain.REUNION),
        history_days=plan["history_days"],
        quota_bytes=plan["quota_bytes"],
        check_parts=plan["check_parts"],
        restore_every_days=plan["restore_every_days"],
        restore_sample=plan["restore_sample"],
        # The repository server's URL for this plan only; never backup-svc's own storage
        # access (K1, R8).
        repository=RepositorySpec(
            location=access.agent_location(ctx, plan["repository_user"]),
            password=open_repository_password(ctx.keyring, plan["id"], plan["repository_password"]),
        ),
        accepting=not plan["over_quota"],
    )


async def report_run(
    conn: asyncpg.Connection, who: AgentIdentity, report: RunReport, now: datetime | None = None
) -> uuid.UUID:
    """Record a run; a good copy publishes ``backup.snapshot_completed``, a failed one raises
    the day's alert and ``backup.missed`` (K2)."""
    now = now or clock.now()
    plan = await repository.get_plan(conn, who.plan_id)
    if plan is None:
        raise errors.PlanNotFound("plan not found")
    if report.status == "succeeded" and not report.snapshot_id:
        raise errors.SnapshotRequired("a succeeded run names its snapshot")
    run_id = report.report_id
    new = await repository.insert_run(
        conn,
        {
            "id": run_id,
            "plan_id": plan["id"],
            "agent_id": who.agent_id,
            "day": report.day,
            "started_at": report.started_at,
            "finished_at": report.finished_at,
            "status": report.status,
            "error": report.error,
            "snapshot_id": report.snapshot_id,
            "bytes_added": report.bytes_added,
            "total_bytes": report.total_bytes,
            "files": report.files,
            "repository_bytes": None,
        },
    )
    if not new:
        if await repository.owner_of_run(conn, run_id) != who.agent_id:
            raise errors.ReportOfAnotherAgent("that report id belongs to another agent")
        return run_id  # a re-sent report: already recorded, no second effect
    if report.status == "failed":
        reason = f"copy failed: {report.error or 'unknown error'}"
        await raise_missed(conn, plan, report.day, reason, kind="failed")
        return run_id
    assert report.snapshot_id is not None
    await repository.insert_snapshot(
        conn,
        plan_id=plan["id"],
        snapshot_id=report.snapshot_id,
        run_id=run_id,
        taken_at=report.snapshot_time or report.finished_at,
        bytes_added=report.bytes_added,
        total_bytes=report.total_bytes,
        files=report.files,
    )
    # The history, the quota and the integrity check are backup-svc's (maintenance worker).
    await repository.mark_maintenance_due(conn, plan["id"])
    await repository.resolve_alerts(conn, plan["id"], ["missed", "failed"], report.day)
    await enqueue(
        conn,
        BackupSnapshotCompleted(
            plan_id=plan["id"],
            version=await next_version(conn, "backup_plan", plan["id"]),
            client_id=plan["client_id"],
            snapshot_id=report.snapshot_id,
            bytes_added=report.bytes_added,
            total_bytes=report.total_bytes,
        ),
    )
    return run_id


async def report_check(
    conn: asyncpg.Connection, who: AgentIdentity, report: CheckReport
) -> uuid.UUID:
    """Record the agent's test restore; a failure raises an alert (K2)."""
    plan = await repository.get_plan(conn, who.plan_id)
    if plan is None:
        raise errors.PlanNotFound("plan not found")
    if report.run_id is not None and not await repository.run_of_agent(
        conn, report.run_id, who.agent_id
    ):
        raise errors.RunOfAnotherAgent("that run was not reported by this agent")
    check_id = report.report_id
    new = await repository.insert_check(
        conn,
        {
            "id": check_id,
            "plan_id": plan["id"],
            "agent_id": who.agent_id,
            "run_id": report.run_id,
            "kind": report.kind,
            "ok": report.ok,
            "subset": report.subset,
            "snapshot_id": report.snapshot_id,
            "detail": report.detail,
            "checked_at": report.checked_at,
        },
    )
    if not new:
        if await repository.owner_of_check(conn, check_id) != who.agent_id:
            raise errors.ReportOfAnotherAgent("that report id belongs to another agent")
        return check_id
    if not report.ok:
        await raise_check_failed(
            conn,
            plan,
            check_id=check_id,
            kind=report.kind,
            detail=report.detail,
            checked_at=report.checked_at,
            snapshot_id=report.snapshot_id,
        )
    return check_id
