"""Fixtures of backup-svc's tests: real restic, a real PostgreSQL, a real PARTAGE folder."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pgserver
import pytest

# Test helpers live next to this file; importlib import mode does not put it on sys.path.
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session")
def practice_pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The practice's own PostgreSQL (the business software's database server)."""
    server = pgserver.get_server(tmp_path_factory.mktemp("practice-pg"), cleanup_mode="stop")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()
