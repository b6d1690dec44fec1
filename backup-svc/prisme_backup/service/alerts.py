"""Alerts shared by the use cases (K2)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

import asyncpg
from prisme_chassis.bus import enqueue, next_version
from prisme_events import BackupCheckFailed, BackupMissed

from .. import domain, repository


async def raise_missed(
    conn: asyncpg.Connection, plan: asyncpg.Record, day: date, reason: str, *, kind: str
) -> bool:
    """One alert and one ``backup.missed`` per plan and day, whoever notices first (a failed
    run reported by the agent, or the watch finding no copy)."""
    if not await repository.raise_alert(
        conn,
        plan_id=plan["id"],
        client_id=plan["client_id"],
        kind=kind,
        day=day,
        detail=reason,
        dedupe_key=f"missed:{plan['id']}:{day.isoformat()}",
    ):
        return False
    await enqueue(
        conn,
        BackupMissed(
            plan_id=plan["id"],
            version=await next_version(conn, "backup_plan", plan["id"]),
            client_id=plan["client_id"],
            day=day,
            reason=reason,
        ),
    )
    return True


async def raise_check_failed(
    conn: asyncpg.Connection,
    plan: asyncpg.Record,
    *,
    check_id: uuid.UUID,
    kind: str,
    detail: str,
    checked_at: datetime,
    snapshot_id: str | None,
) -> None:
    """A failed integrity check or test restore: one alert and one ``backup.check_failed``."""
    what = "integrity check" if kind == "integrity" else "test restore"
    text = f"{what} failed: {detail}"[:4000]
    await repository.raise_alert(
        conn,
        plan_id=plan["id"],
        client_id=plan["client_id"],
        kind="check_failed",
        day=domain.business_day(checked_at),
        detail=text,
        dedupe_key=f"check_failed:{check_id}",
    )
    await enqueue(
        conn,
        BackupCheckFailed(
            plan_id=plan["id"],
            version=await next_version(conn, "backup_plan", plan["id"]),
            client_id=plan["client_id"],
            detail=text,
            check=kind,
            snapshot_id=snapshot_id,
        ),
    )


async def raise_over_quota(
    conn: asyncpg.Connection, plan: asyncpg.Record, used_bytes: int, now: datetime
) -> None:
    """K1: the repository outgrew its quota; once per plan and day."""
    day = domain.business_day(now)
    detail = (
        f"repository holds {used_bytes} bytes, quota {plan['quota_bytes']}: "
        "no new copy is accepted until the quota is raised or the history shrinks"
    )
    if await repository.raise_alert(
        conn,
        plan_id=plan["id"],
        client_id=plan["client_id"],
        kind="over_quota",
        day=day,
        detail=detail,
        dedupe_key=f"over_quota:{plan['id']}:{day}",
    ):
        await enqueue(
            conn,
            BackupCheckFailed(
                plan_id=plan["id"],
                version=await next_version(conn, "backup_plan", plan["id"]),
                client_id=plan["client_id"],
                detail=detail,
                check="quota",
            ),
        )
