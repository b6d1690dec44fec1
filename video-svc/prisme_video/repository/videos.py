"""Recordings: their rows, the list, what retention purges."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg

from ..sealed_objects import SealedRef
from .db import DB


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
    conn: DB,
    client_id: uuid.UUID | None,
    contract_id: uuid.UUID | None,
    *,
    limit: int,
    before: tuple[datetime, uuid.UUID] | None = None,
) -> list[VideoRow]:
    """Newest upload first (the id breaking ties), those after the key ``before``."""
    rows = await conn.fetch(
        f"SELECT {_VIDEO_COLUMNS} FROM videos"  # noqa: S608
        " WHERE deleted_at IS NULL AND ($1::uuid IS NULL OR client_id = $1)"
        " AND ($2::uuid IS NULL OR contract_id = $2)"
        " AND ($4::timestamptz IS NULL OR (uploaded_at, id) < ($4, $5::uuid))"
        " ORDER BY uploaded_at DESC, id DESC LIMIT $3",
        client_id,
        contract_id,
        limit,
        *(before or (None, None)),
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
