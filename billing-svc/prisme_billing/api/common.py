"""What the route modules share: pages of lists read oldest first (charges, approvals)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

import asyncpg
from prisme_chassis import pagination
from pydantic import BaseModel

Out = TypeVar("Out", bound=BaseModel)


def _created_key(row: asyncpg.Record) -> tuple[datetime, uuid.UUID]:
    return row["created_at"], row["id"]


def created_after(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    """The ``(created_at, id)`` a list paged oldest first resumes after."""
    after = pagination.decode(cursor, pagination.moment, uuid.UUID)
    return None if after is None else (after[0], after[1])


def created_page(
    rows: list[asyncpg.Record], limit: int, out: Callable[[asyncpg.Record], Out]
) -> pagination.Page[Out]:
    """A page of a list paged oldest first (charges, approvals)."""
    return pagination.Page[Out].of(rows, limit, key=_created_key, out=out)
