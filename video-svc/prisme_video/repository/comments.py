"""Comments on a recording, at a moment of it."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

import asyncpg

from .db import DB


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


async def list_comments(
    conn: DB,
    video_id: uuid.UUID,
    *,
    limit: int | None = None,
    after: tuple[Decimal, datetime, uuid.UUID] | None = None,
) -> list[asyncpg.Record]:
    """By moment in the recording, then time written (the id breaking ties), after ``after``;
    every one without ``limit`` (a recording's page embeds them all)."""
    return list(
        await conn.fetch(
            "SELECT id, video_id, at_seconds, text, author, created_at FROM comments"
            " WHERE video_id = $1 AND ($3::numeric IS NULL"
            "   OR (at_seconds, created_at, id) > ($3, $4::timestamptz, $5::uuid))"
            " ORDER BY at_seconds, created_at, id LIMIT $2",
            video_id,
            limit,
            *(after or (None, None, None)),
        )
    )
