"""SQL shared by the lists that page oldest first by ``(created_at, id)``."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

import asyncpg

#: where those lists are: a constant of this module, never a caller's text
Table = Literal["charges", "approvals"]


async def oldest_first(
    conn: asyncpg.Connection,
    table: Table,
    status: str | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Rows of ``table`` (of ``status``, if given) oldest first, from the one after ``after``
    (its ``created_at`` and id): the index ``<table>_list`` (migration 012) in its order."""
    assert table in ("charges", "approvals")
    keyset = "" if after is None else " AND (created_at, id) > ($3, $4)"
    sql = (
        f"SELECT * FROM {table} WHERE ($1::text IS NULL OR status = $1){keyset}"  # noqa: S608
        " ORDER BY created_at, id LIMIT $2"
    )
    return await conn.fetch(sql, status, limit, *(after or ()))
