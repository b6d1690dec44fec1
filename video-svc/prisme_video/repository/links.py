"""Share links (V2, V3): their rows, revoking one or a contract's, the year-end's effects."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from .db import DB
from .videos import VideoRow


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
    conn: DB,
    client_id: uuid.UUID | None,
    video_id: uuid.UUID | None,
    *,
    limit: int,
    before: tuple[datetime, uuid.UUID] | None = None,
) -> list[LinkRow]:
    """Newest first (the id breaking ties), those after the key ``before``."""
    rows = await conn.fetch(
        f"SELECT {_LINK_COLUMNS} FROM links"  # noqa: S608
        " WHERE ($1::uuid IS NULL OR client_id = $1) AND ($2::uuid IS NULL OR video_id = $2)"
        " AND ($4::timestamptz IS NULL OR (created_at, id) < ($4, $5::uuid))"
        " ORDER BY created_at DESC, id DESC LIMIT $3",
        client_id,
        video_id,
        limit,
        *(before or (None, None)),
    )
    return [LinkRow(**dict(r)) for r in rows]


async def revoke_links_of_contracts(
    conn: DB, reasons: Mapping[uuid.UUID, str], now: datetime
) -> list[LinkRow]:
    """V3: every live link of each contract, revoked with its contract's reason, in one
    statement."""
    rows = await conn.fetch(
        "UPDATE links SET revoked_at = $3, revoked_reason = t.reason"  # noqa: S608 - fixed column list
        " FROM unnest($1::uuid[], $2::text[]) AS t(ended, reason)"
        " WHERE contract_id = t.ended AND revoked_at IS NULL"
        f" RETURNING {_LINK_COLUMNS}",
        list(reasons),
        list(reasons.values()),
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
