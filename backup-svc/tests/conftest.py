"""Fixtures of backup-svc's tests: real restic, a real PostgreSQL, a real PARTAGE folder,
backup-svc on a fresh database with a real NATS (prisme_testing fixtures)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from prisme_backup.repository_server import command, prepare
from prisme_backup.settings import BackupSettings
from prisme_localinfra import free_port

# Test helpers live next to this file; importlib import mode does not put it on sys.path.
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session")
def practice_pg(pg: Any) -> str:
    """The practice's own PostgreSQL server (the business software's databases): the session's
    real PostgreSQL, on which each test creates its own database."""
    dsn: str = pg.admin_dsn
    return dsn


@dataclass(frozen=True)
class RepositoryServer:
    url: str
    root: Path
    users_file: Path


@pytest.fixture
def repository_server(tmp_path: Path) -> Iterator[RepositoryServer]:
    """The real repository server (``rclone serve restic --append-only --private-repos``) on
    a free port, serving a fresh directory with backup-svc's users file."""
    root, users = tmp_path / "repositories", tmp_path / "repository-users.htpasswd"
    prepare(root, users)
    port = free_port()
    log = (tmp_path / "rclone.log").open("wb")
    proc = subprocess.Popen(
        command(root=root, users_file=users, addr=f"127.0.0.1:{port}"),
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(url + "/", timeout=1).status_code == 401:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"rclone did not start: {(tmp_path / 'rclone.log').read_text()}")
            time.sleep(0.05)
        yield RepositoryServer(url, root, users)
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


@pytest.fixture
async def backup_settings(
    base_settings: dict[str, Any],
    new_database: Callable[[], Awaitable[str]],
    repository_server: RepositoryServer,
) -> BackupSettings:
    return BackupSettings(
        **base_settings,
        database_url=await new_database(),
        watch_interval=0.2,
        repository_base=str(repository_server.root),
        repository_users_file=repository_server.users_file,
        repository_server_url=repository_server.url,
    )
