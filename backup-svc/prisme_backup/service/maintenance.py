"""What only backup-svc does to a repository, with its own storage access (K1, K2).

After each good copy: apply the history (``forget --keep-within <history>d --prune``),
measure the repository (``stats --mode raw-data``) against the quota, and check its integrity
(``check --read-data-subset n/N``, a different share each day). Agents cannot do any of this:
their user on the repository server may only add (DESIGN.md K1).

restic runs outside any transaction (a prune can take minutes and must not hold the plan's
row); the result is recorded in a second one. A crash in between leaves the maintenance due:
it is done again, which is harmless (forget and prune are idempotent).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg
from prisme_chassis import audit

from .. import domain, repository
from ..agent.restic import Repository, Restic, ResticError
from ..sealed import open_repository_password
from . import access
from .alerts import raise_check_failed, raise_over_quota
from .context import Backups

log = logging.getLogger(__name__)


def own_restic(ctx: Backups, plan: asyncpg.Record) -> Restic:
    """restic on a plan's repository with backup-svc's own access (never an agent's)."""
    return Restic(
        Repository(
            location=plan["repository_location"],
            password=open_repository_password(ctx.keyring, plan["id"], plan["repository_password"]),
            env=ctx.repository_env,
        ),
        binary=ctx.restic_binary,
    )


@dataclass(frozen=True)
class Outcome:
    """What restic found; recorded by :func:`record`."""

    plan: asyncpg.Record
    subset: str
    removed: list[str]
    used_bytes: int | None
    ok: bool
    detail: str
    snapshot_id: str | None


async def due(conn: asyncpg.Connection) -> asyncpg.Record | None:
    """The plan whose maintenance has waited longest, if any."""
    return await repository.plan_due_for_maintenance(conn)


async def run(ctx: Backups, plan: asyncpg.Record, now: datetime) -> Outcome:
    """forget/prune, measure, check: restic only, no database (run outside a transaction)."""
    restic = own_restic(ctx, plan)
    subset = domain.check_subset(domain.business_day(now), plan["check_parts"])
    removed: list[str] = []
    used: int | None = None
    snapshot_id: str | None = None
    try:
        removed = await restic.forget(keep_within=f"{plan['history_days']}d", prune=True)
        used = await restic.raw_size()
        check = await restic.check(read_data_subset=subset)
        ok, detail = check.ok, check.output[-4000:]
        snapshots = await restic.snapshots()
        snapshot_id = snapshots[-1].id if snapshots else None
    except ResticError as exc:
        ok, detail = False, f"maintenance failed: {exc}"[-4000:]
    return Outcome(plan, subset, removed, used, ok, detail, snapshot_id)


async def record(conn: asyncpg.Connection, ctx: Backups, outcome: Outcome, now: datetime) -> None:
    """Record the outcome: catalogue, check, alerts, quota (and the server's users with it)."""
    plan_id = outcome.plan["id"]
    current = await repository.get_plan(conn, plan_id, lock=True)
    assert current is not None
    await repository.forget_snapshots(conn, plan_id, outcome.removed, now)
    check_id = uuid.uuid4()
    await repository.insert_check(
        conn,
        {
            "id": check_id,
            "plan_id": plan_id,
            "agent_id": None,
            "run_id": None,
            "kind": "integrity",
            "ok": outcome.ok,
            "subset": outcome.subset,
            "snapshot_id": outcome.snapshot_id,
            "detail": outcome.detail,
            "checked_at": now,
        },
    )
    if not outcome.ok:
        await raise_check_failed(
            conn,
            current,
            check_id=check_id,
            kind="integrity",
            detail=outcome.detail,
            checked_at=now,
            snapshot_id=outcome.snapshot_id,
        )
    used = outcome.used_bytes
    over = domain.over_quota(used, current["quota_bytes"]) if used is not None else None
    if over is None:
        over = bool(current["over_quota"])
    elif over:
        await raise_over_quota(conn, current, used or 0, now)
    else:
        await repository.resolve_alerts(conn, plan_id, ["over_quota"], None)
    await repository.finish_maintenance(
        conn,
        plan_id,
        runs_seen=outcome.plan["runs_reported"],
        repository_bytes=used,
        over_quota=over,
        now=now,
    )
    if over != current["over_quota"]:
        # K1: over quota, the plan's user leaves the repository server (no new data).
        await access.publish_users(conn, ctx)
    if outcome.removed or over != current["over_quota"]:
        # O3: what the platform's maintenance changed (forgotten copies, the quota state)
        await audit.record(
            conn,
            audit.Actor.system("backup-maintenance"),
            "backup.plan_maintained",
            target_type="backup_plan",
            target_id=plan_id,
            client_id=current["client_id"],
            before={"over_quota": current["over_quota"]},
            after={"over_quota": over},
            detail={"forgotten": outcome.removed, "repository_bytes": used, "check_ok": outcome.ok},
        )
    log.info(
        "maintained plan %s: %d forgotten, %s bytes, check %s",
        plan_id,
        len(outcome.removed),
        used,
        "ok" if outcome.ok else "FAILED",
    )
