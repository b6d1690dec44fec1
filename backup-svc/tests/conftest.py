"""Fixtures of backup-svc's tests: real restic, a real PostgreSQL, a real PARTAGE folder,
backup-svc on a fresh database with a real NATS (prisme_testing fixtures)."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from prisme_backup.settings import BackupSettings

# Test helpers live next to this file; importlib import mode does not put it on sys.path.
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session")
def practice_pg(pg: Any) -> str:
    """The practice's own PostgreSQL server (the business software's databases): the session's
    real PostgreSQL, on which each test creates its own database."""
    dsn: str = pg.admin_dsn
    return dsn


@pytest.fixture
async def backup_settings(
    base_settings: dict[str, Any], new_database: Callable[[], Awaitable[str]]
) -> BackupSettings:
    return BackupSettings(**base_settings, database_url=await new_database(), watch_interval=0.2)
