"""The access log and the throttling of password attempts (V4)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from ..domain import FailureStats
from .db import DB


async def lock_attempts(conn: DB, link_id: uuid.UUID, address: str) -> None:
    """Serialise password attempts on one link and from one address (the check-then-log race)."""
    for key in sorted((f"link:{link_id}", f"addr:{address}")):
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 1))", key)


async def failure_stats(
    conn: DB, link_id: uuid.UUID, address: str, since: datetime
) -> tuple[FailureStats, FailureStats]:
    """Failed attempts since ``since``: on the link (every address), from the address (every
    link)."""
    rows = await conn.fetch(
        """
        SELECT 0 AS k, count(*) AS count, max(at) AS latest FROM access_log
        WHERE event = 'login_failed' AND link_id = $1 AND at >= $3
        UNION ALL
        SELECT 1, count(*), max(at) FROM access_log
        WHERE event = 'login_failed' AND address = $2 AND at >= $3
        """,
        link_id,
        address,
        since,
    )
    by_kind = {r["k"]: FailureStats(r["count"], r["latest"]) for r in rows}
    return by_kind[0], by_kind[1]


@dataclass(frozen=True)
class Access:
    event: str
    status: int
    address: str
    user_agent: str
    link_id: uuid.UUID | None = None
    video_id: uuid.UUID | None = None
    range_start: int | None = None
    range_end: int | None = None
    bytes_served: int = 0


async def log_access(conn: DB, access: Access) -> None:
    await conn.execute(
        "INSERT INTO access_log (link_id, video_id, address, user_agent, event, status,"
        " range_start, range_end, bytes_served) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        access.link_id,
        access.video_id,
        access.address,
        access.user_agent[:512],
        access.event,
        access.status,
        access.range_start,
        access.range_end,
        access.bytes_served,
    )


async def list_access_log(
    conn: DB,
    *,
    link_id: uuid.UUID | None,
    video_id: uuid.UUID | None,
    client_id: uuid.UUID | None,
    limit: int,
    before: int | None = None,
) -> list[asyncpg.Record]:
    """Newest first (by id, the order rows were written), those before the id ``before``."""
    return list(
        await conn.fetch(
            """
            SELECT a.id, a.at, a.link_id, a.video_id, a.address, a.user_agent, a.event, a.status,
                   a.range_start, a.range_end, a.bytes_served
            FROM access_log a LEFT JOIN links l ON l.id = a.link_id
            WHERE ($1::uuid IS NULL OR a.link_id = $1) AND ($2::uuid IS NULL OR a.video_id = $2)
              AND ($3::uuid IS NULL OR l.client_id = $3)
              AND ($5::bigint IS NULL OR a.id < $5)
            ORDER BY a.id DESC LIMIT $4
            """,
            link_id,
            video_id,
            client_id,
            limit,
            before,
        )
    )
