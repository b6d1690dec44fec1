"""Alerts shared by the use cases (K2)."""

from __future__ import annotations

from datetime import date

import asyncpg
from prisme_chassis.bus import enqueue, next_version
from prisme_events import BackupMissed

from .. import repository


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
