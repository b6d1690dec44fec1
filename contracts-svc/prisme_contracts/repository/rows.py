"""What every repository module shares: the row type, values made JSON-ready, rows as dicts."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import asyncpg

Row = asyncpg.Record


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, uuid.UUID | date | datetime):
        return str(value) if isinstance(value, uuid.UUID) else value.isoformat()
    return value


def record(row: Row | None, keys: Sequence[str] | None = None) -> dict[str, Any]:
    """A record as a plain dict (for audit before/after)."""
    if row is None:
        return {}
    data = dict(row)
    return {k: data[k] for k in keys} if keys is not None else data
