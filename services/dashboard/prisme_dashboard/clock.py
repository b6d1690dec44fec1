"""The dashboard's notion of now (one place, so a test clock can replace it)."""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC)
