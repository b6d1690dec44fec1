"""Keyset pages of a list route (DESIGN §4: ``limit``, a cursor in the answer).

A page is ``{"items": [...], "next_cursor": "..."}``; the client gives ``next_cursor`` back as
``cursor`` for the next page and stops when it is ``null``. The cursor is opaque to clients: the
sort key of the page's last row (e.g. ``(issued, id)``), joined by ``|`` and base64url-encoded,
so a page never skips or repeats a row when rows are added meanwhile (unlike an offset).

Use::

    after = pagination.decode(cursor, int, uuid.UUID)          # None on the first page
    rows = await repo.page(conn, ..., after=after, limit=limit + 1)
    return Page[ThingOut].of(rows, limit, key=lambda r: (r["year"], r["id"]), out=thing_out)
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field

from .errors import Unprocessable

T = TypeVar("T")
R = TypeVar("R")

#: ``limit`` of a list route: 50 rows unless asked, 200 at the most.
Limit = Annotated[int, Query(ge=1, le=200, description="Rows of this page (1 to 200)")]
DEFAULT_LIMIT = 50
#: ``cursor`` of a list route: what the previous page gave as ``next_cursor``.
Cursor = Annotated[
    str | None,
    Query(max_length=200, description="The previous page's `next_cursor`; none for the first"),
]


class InvalidCursor(Unprocessable):
    """The ``cursor`` was not given by this route (altered, or from another list)."""

    code = "invalid-cursor"
    title = "Curseur de pagination invalide"


class Page(BaseModel, Generic[T]):
    """One page of a list, in the list's order."""

    items: list[T]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page")

    @classmethod
    def of(
        cls,
        rows: Sequence[R],
        limit: int,
        *,
        key: Callable[[R], Sequence[object]],
        out: Callable[[R], T],
    ) -> Page[T]:
        """The page of ``rows`` fetched with ``limit + 1``: the extra row only says there is a
        next page, whose cursor is ``key`` (the sort key) of this page's last row."""
        kept = rows[:limit]
        more = len(rows) > limit and len(kept) > 0
        return cls(
            items=[out(r) for r in kept], next_cursor=encode(*key(kept[-1])) if more else None
        )


def encode(*parts: object) -> str:
    """The opaque cursor of a row's sort key (``str`` of each part, ``isoformat`` of dates)."""
    text = "|".join(p.isoformat() if hasattr(p, "isoformat") else str(p) for p in parts)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def moment(text: str) -> datetime:
    """A cursor part that is a timezone-aware time (as :func:`encode` writes one)."""
    at = datetime.fromisoformat(text)
    if at.tzinfo is None:
        raise ValueError("a time without its timezone")
    return at


def text_part(value: object) -> str:
    """A free-text sort key part (a UPN, an agent's snapshot id) as :func:`encode` may carry
    it: hex, so a ``|`` inside cannot split the cursor; read back with :func:`text`."""
    return str(value).encode().hex()


def text(part: str) -> str:
    """A cursor part that :func:`text_part` wrote."""
    return bytes.fromhex(part).decode()


def int32(text: str) -> int:
    """A cursor part that is a PostgreSQL ``integer`` (0 to 2³¹ − 1)."""
    value = int(text)
    if not 0 <= value < 2**31:
        raise ValueError(f"{value} is not a 32-bit counter")
    return value


def int64(text: str) -> int:
    """A cursor part that is a PostgreSQL ``bigint`` sequence (0 to 2⁶³ − 1)."""
    value = int(text)
    if not 0 <= value < 2**63:
        raise ValueError(f"{value} is not a 64-bit sequence number")
    return value


def decode(cursor: str | None, *types: Callable[[str], Any]) -> tuple[Any, ...] | None:
    """The sort key ``cursor`` holds, each part read by its type (``int``, ``uuid.UUID``,
    ``moment``, ``int32``, ``int64`` …); ``None`` without a cursor; :class:`InvalidCursor` (422) when it
    is not one this scheme wrote with as many parts."""
    if cursor is None:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        parts = text.split("|")
        if len(parts) != len(types):
            raise ValueError(f"{len(parts)} parts, expected {len(types)}")
        return tuple(read(part) for read, part in zip(types, parts, strict=True))
    except (ValueError, TypeError, UnicodeDecodeError, binascii.Error) as exc:
        raise InvalidCursor(
            "curseur de pagination invalide", errors=[{"field": "cursor", "detail": str(exc)}]
        ) from exc
