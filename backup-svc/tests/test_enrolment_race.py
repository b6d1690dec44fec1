"""Enrolment answers once the repository server knows the user; concurrent enrolments lose
none of their users (the users file is written after the commit, one publisher at a time)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import RepositoryServer
from prisme_backup.app import build_app
from prisme_backup.service import access
from prisme_backup.settings import BackupSettings
from prisme_testing.plugin import start_service
from test_service import new_plan


@pytest.fixture
def headers(make_token: Callable[..., str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token(scopes=('backups:read', 'backups:write'))}"}


async def test_concurrent_enrolments_are_each_known_when_answered(
    backup_settings: BackupSettings,
    repository_server: RepositoryServer,
    headers: dict[str, str],
) -> None:
    async with start_service(build_app(backup_settings), headers=headers) as api:
        plans = [await new_plan(api, backup_settings.nats_url) for _ in range(4)]
        tokens = []
        for plan in plans:
            resp = await api.post(f"/v1/plans/{plan['id']}/enrolment-tokens")
            assert resp.status_code == 201, resp.text
            tokens.append(resp.json()["token"])

        async def enrol(token: str) -> dict[str, Any]:
            r = await api.post("/v1/agent/enrol", json={"token": token, "hostname": "srv"})
            assert r.status_code == 201, r.text
            return dict(r.json()["repository_access"])

        accesses = await asyncio.gather(*(enrol(t) for t in tokens))
        # the moment each answer arrived its user was known: no retry, no waiting here
        async with httpx.AsyncClient() as client:
            for access in accesses:
                user, password = access["username"], access["password"]
                resp = await client.head(
                    f"{repository_server.url}/{user}/config", auth=(user, password)
                )
                assert resp.status_code != 401, user
        users = {line.split(":", 1)[0] for line in repository_server.users_file.read_text().split()}
        assert {a["username"] for a in accesses} <= users


def test_users_files_written_at_once_from_threads_each_land_whole(tmp_path: Path) -> None:
    """The enrolment's publisher and the watch loop write the file from threads of one
    process: each write lands whole, none fails on another's temporary file."""
    target = tmp_path / "users"
    texts = [f"p{i:02d}:hash\n" * 200 for i in range(16)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda text: access._write(target, text), texts * 8))
    assert target.read_text() in texts
    assert [p.name for p in tmp_path.iterdir()] == ["users"]
