"""All SQL of video-svc."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from .domain import ContractState, FailureStats
from .sealed_objects import SealedRef

#: Anything queries can run on: a connection (in a transaction or not), a pooled one, the pool.
DB: TypeAlias = (
    "asyncpg.Connection | PoolConnectionProxy[asyncpg.Record] | asyncpg.Pool[asyncpg.Record]"
)

# --- contracts ---------------------------------------------------------------------------------


async def get_contract(
    conn: DB, contract_id: uuid.UUID, *, for_update: bool = False
) -> ContractState | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(
        "SELECT contract_id, client_id, version, status, ends_at, ended_at, year FROM contracts"  # noqa: S608 - fixed column list
        " WHERE contract_id = $1" + lock,
        contract_id,
    )
    return None if row is None else ContractState(**dict(row))


async def lock_contract(conn: DB, contract_id: uuid.UUID) -> None:
    """Serialise events of one contract, even before its first row exists."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", str(contract_id))


async def save_contract(conn: DB, state: ContractState) -> None:
    await conn.execute(
        """
        INSERT INTO contracts (contract_id, client_id, version, status, ends_at, ended_at, year)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        ON CONFLICT (contract_id) DO UPDATE SET
            version = EXCLUDED.version, status = EXCLUDED.status, ends_at = EXCLUDED.ends_at,
            ended_at = EXCLUDED.ended_at, year = EXCLUDED.year, updated_at = now()
        """,
        state.contract_id,
        state.client_id,
        state.version,
        state.status,
        state.ends_at,
        state.ended_at,
        state.year,
    )


# --- videos ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VideoRow:
    id: uuid.UUID
    client_id: uuid.UUID
    contract_id: uuid.UUID
    title: str
    uploaded_by: str
    uploaded_at: datetime
    container: str
    video_codec: str
    width: int
    height: int
    duration_seconds: Decimal
    size_bytes: int
    chunk_size: int
    object_name: str
    nonce_prefix: bytes
    poster_object: str
    poster_size: int
    poster_nonce_prefix: bytes
    wrapped_key: bytes
    deleted_at: datetime | None

    @property
    def video_ref(self) -> SealedRef:
        return SealedRef(self.object_name, self.size_bytes, self.chunk_size, self.nonce_prefix)

    @property
    def poster_ref(self) -> SealedRef:
        return SealedRef(
            self.poster_object, self.poster_size, self.chunk_size, self.poster_nonce_prefix
        )


_VIDEO_COLUMNS = (
    "id, client_id, contract_id, title, uploaded_by, uploaded_at, container, video_codec, width,"
    " height, duration_seconds, size_bytes, chunk_size, object_name, nonce_prefix, poster_object,"
    " poster_size, poster_nonce_prefix, wrapped_key, deleted_at"
)


def _video(row: asyncpg.Record) -> VideoRow:
    return VideoRow(**dict(row))


async def insert_video(conn: DB, video: VideoRow) -> None:
    values: dict[str, Any] = video.__dict__
    columns = [c.strip() for c in _VIDEO_COLUMNS.split(",")]
    placeholders = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
    await conn.execute(
        f"INSERT INTO videos ({_VIDEO_COLUMNS}) VALUES ({placeholders})",  # noqa: S608 - fixed columns
        *(values[c] for c in columns),
    )


async def get_video(conn: DB, video_id: uuid.UUID) -> VideoRow | None:
    row = await conn.fetchrow(f"SELECT {_VIDEO_COLUMNS} FROM videos WHERE id = $1", video_id)  # noqa: S608
    return None if row is None else _video(row)


async def list_videos(
    conn: DB, client_id: uuid.UUID | None, contract_id: uuid.UUID | None
) -> list[VideoRow]:
    rows = await conn.fetch(
        f"SELECT {_VIDEO_COLUMNS} FROM videos"  # noqa: S608
        " WHERE deleted_at IS NULL AND ($1::uuid IS NULL OR client_id = $1)"
        " AND ($2::uuid IS NULL OR contract_id = $2) ORDER BY uploaded_at DESC, id LIMIT 1000",
        client_id,
        contract_id,
    )
    return [_video(r) for r in rows]


async def videos_due_for_purge(
    conn: DB, retention_days: int, now: datetime, limit: int = 100
) -> list[VideoRow]:
    """Live recordings whose contract ended more than ``retention_days`` ago (V1)."""
    rows = await conn.fetch(
        f"SELECT {', '.join('v.' + c.strip() for c in _VIDEO_COLUMNS.split(','))}"  # noqa: S608
        " FROM videos v JOIN contracts c ON c.contract_id = v.contract_id"
        " WHERE v.deleted_at IS NULL AND c.status = 'ended'"
        " AND c.ended_at + make_interval(days => $1) <= $2"
        " ORDER BY c.ended_at LIMIT $3 FOR UPDATE OF v SKIP LOCKED",
        retention_days,
        now,
        limit,
    )
    return [_video(r) for r in rows]


async def known_video_ids(conn: DB, ids: list[uuid.UUID]) -> set[uuid.UUID]:
    rows = await conn.fetch("SELECT id FROM videos WHERE id = ANY($1::uuid[])", ids)
    return {r["id"] for r in rows}


async def mark_video_deleted(conn: DB, video_id: uuid.UUID, now: datetime) -> None:
    await conn.execute("UPDATE videos SET deleted_at = $2 WHERE id = $1", video_id, now)


# --- comments ----------------------------------------------------------------------------------


async def insert_comment(
    conn: DB,
    comment_id: uuid.UUID,
    video_id: uuid.UUID,
    at_seconds: Decimal,
    text: str,
    author: str,
) -> asyncpg.Record:
    row = await conn.fetchrow(
        "INSERT INTO comments (id, video_id, at_seconds, text, author) VALUES ($1, $2, $3, $4, $5)"
        " RETURNING id, video_id, at_seconds, text, author, created_at",
        comment_id,
        video_id,
        at_seconds,
        text,
        author,
    )
    assert row is not None
    return row


async def list_comments(conn: DB, video_id: uuid.UUID) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            "SELECT id, video_id, at_seconds, text, author, created_at FROM comments"
            " WHERE video_id = $1 ORDER BY at_seconds, created_at",
            video_id,
        )
    )


# --- links -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LinkRow:
    id: uuid.UUID
    video_id: uuid.UUID
    client_id: uuid.UUID
    contract_id: uuid.UUID
    password_hash: str
    expires_at: datetime
    created_by: str
    created_at: datetime
    revoked_at: datetime | None
    revoked_reason: str | None


_LINK_COLUMNS = (
    "id, video_id, client_id, contract_id, password_hash, expires_at, created_by, created_at,"
    " revoked_at, revoked_reason"
)


async def insert_link(
    conn: DB,
    *,
    link_id: uuid.UUID,
    video: VideoRow,
    token_hash: bytes,
    password_hash: str,
    expires_at: datetime,
    created_by: str,
) -> LinkRow:
    row = await conn.fetchrow(
        "INSERT INTO links (id, video_id, client_id, contract_id, token_hash, password_hash,"  # noqa: S608 - fixed column list
        " expires_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        f" RETURNING {_LINK_COLUMNS}",
        link_id,
        video.id,
        video.client_id,
        video.contract_id,
        token_hash,
        password_hash,
        expires_at,
        created_by,
    )
    assert row is not None
    return LinkRow(**dict(row))


async def link_by_token_hash(conn: DB, token_hash: bytes) -> LinkRow | None:
    row = await conn.fetchrow(
        f"SELECT {_LINK_COLUMNS} FROM links WHERE token_hash = $1",  # noqa: S608
        token_hash,
    )
    return None if row is None else LinkRow(**dict(row))


async def get_link(conn: DB, link_id: uuid.UUID) -> LinkRow | None:
    row = await conn.fetchrow(f"SELECT {_LINK_COLUMNS} FROM links WHERE id = $1", link_id)  # noqa: S608
    return None if row is None else LinkRow(**dict(row))


async def revoke_link(conn: DB, link_id: uuid.UUID, reason: str, now: datetime) -> LinkRow | None:
    row = await conn.fetchrow(
        "UPDATE links SET revoked_at = $3, revoked_reason = $2 WHERE id = $1 AND revoked_at IS NULL"  # noqa: S608 - fixed column list
        f" RETURNING {_LINK_COLUMNS}",
        link_id,
        reason,
        now,
    )
    return None if row is None else LinkRow(**dict(row))


async def list_links(
    conn: DB, client_id: uuid.UUID | None, video_id: uuid.UUID | None
) -> list[LinkRow]:
    rows = await conn.fetch(
        f"SELECT {_LINK_COLUMNS} FROM links"  # noqa: S608
        " WHERE ($1::uuid IS NULL OR client_id = $1) AND ($2::uuid IS NULL OR video_id = $2)"
        " ORDER BY created_at DESC, id LIMIT 1000",
        client_id,
        video_id,
    )
    return [LinkRow(**dict(r)) for r in rows]


async def revoke_links_of_contract(
    conn: DB, contract_id: uuid.UUID, reason: str, now: datetime
) -> list[LinkRow]:
    """V3: every live link of the contract, revoked in one statement."""
    rows = await conn.fetch(
        "UPDATE links SET revoked_at = $3, revoked_reason = $2"  # noqa: S608 - fixed column list
        " WHERE contract_id = $1 AND revoked_at IS NULL"
        f" RETURNING {_LINK_COLUMNS}",
        contract_id,
        reason,
        now,
    )
    return [LinkRow(**dict(r)) for r in rows]


async def year_end_effects(conn: DB, year: int) -> asyncpg.Record:
    """For the ended contracts of ``year``: how many, their links revoked by that end (V3) and
    their links still live, in one statement."""
    row = await conn.fetchrow(
        """
        WITH ended AS (SELECT contract_id FROM contracts WHERE year = $1 AND status = 'ended')
        SELECT (SELECT count(*) FROM ended) AS contracts_ended,
               count(l.id) FILTER (WHERE l.revoked_reason LIKE 'contract_ended:%') AS done,
               count(l.id) FILTER (WHERE l.revoked_at IS NULL) AS remaining
        FROM ended e JOIN links l ON l.contract_id = e.contract_id
        """,
        year,
    )
    assert row is not None
    return row


# --- access log and throttling (V4) ------------------------------------------------------------


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
) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            """
            SELECT a.id, a.at, a.link_id, a.video_id, a.address, a.user_agent, a.event, a.status,
                   a.range_start, a.range_end, a.bytes_served
            FROM access_log a LEFT JOIN links l ON l.id = a.link_id
            WHERE ($1::uuid IS NULL OR a.link_id = $1) AND ($2::uuid IS NULL OR a.video_id = $2)
              AND ($3::uuid IS NULL OR l.client_id = $3)
            ORDER BY a.id DESC LIMIT $4
            """,
            link_id,
            video_id,
            client_id,
            limit,
        )
    )
