"""R8: one practice's agent reaches its own repository only, and can only add to it.

Two practices enrolled on the real repository server (``rclone serve restic --append-only
--private-repos``) with real restic. Agent A holds what a compromised server at practice A
would hold: its storage user and password, and even (worst case) B's restic password.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from backup_helpers import activated, ended, eventually, write_tree
from conftest import RepositoryServer
from prisme_backup.agent.client import ControlPlane
from prisme_backup.agent.config import AgentConfig
from prisme_backup.agent.dumps import DumpRunner
from prisme_backup.agent.protocol import AgentPlan
from prisme_backup.agent.restic import Repository, Restic, ResticError, rest_location
from prisme_backup.agent.runner import run_once
from prisme_backup.agent.service import run_and_report
from prisme_backup.app import build_app
from prisme_backup.service import maintenance
from prisme_backup.service.context import Backups
from prisme_backup.settings import BackupSettings
from prisme_chassis.db import connect
from prisme_testing.plugin import publish_event, start_service
from test_service import enrolled, plan_of, restic_of


@pytest.fixture
def headers(make_token: Callable[..., str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token(scopes=('backups:read', 'backups:write'))}"}


async def _practice(
    api: httpx.AsyncClient, nats_url: str, tmp_path: Path, name: str
) -> tuple[Any, dict[str, Any], Path]:
    share = tmp_path / f"PARTAGE-{name}"
    write_tree(share, {f"{name}.txt": f"dossiers du cabinet {name}".encode() * 500})
    event = activated(uuid.uuid4())
    await publish_event(nats_url, event)
    plan = await eventually(lambda: plan_of(api, event.client_id))
    resp = await api.patch(
        f"/v1/plans/{plan['id']}", json={"share_path": str(share), "restore_every_days": 30}
    )
    assert resp.status_code == 200, resp.text
    return event, resp.json(), await enrolled(api, plan["id"], tmp_path, name=name)


async def _agent_plan(config_path: Path) -> AgentPlan:
    config = AgentConfig.load(config_path)
    async with ControlPlane(config.server_url, config.credential) as cp:
        return await cp.plan()


def _auth(config_path: Path) -> httpx.BasicAuth:
    config = AgentConfig.load(config_path)
    assert config.repository_username
    assert config.repository_password
    return httpx.BasicAuth(config.repository_username, config.repository_password)


async def _forget_is_refused(restic: Restic, snapshot_id: str) -> str:
    """Run the agent's own ``restic forget``; return the server's refusal as soon as restic
    prints it (restic would retry the refused deletion for about a minute)."""
    proc = await asyncio.create_subprocess_exec(
        *restic._argv(["forget", snapshot_id]),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env=restic._env(),
    )
    assert proc.stderr is not None
    seen = ""
    try:
        async with asyncio.timeout(120):
            async for raw in proc.stderr:
                seen += raw.decode(errors="replace")
                if "403" in seen or proc.returncode is not None:
                    break
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()
    # The killed forget left its exclusive lock behind; lock files are the one thing the
    # append-only server lets an agent delete (restic needs it), so it clears its own.
    await restic._run(["unlock"])
    return seen


async def test_an_agent_reaches_only_its_own_repository_and_only_adds(
    backup_settings: BackupSettings,
    repository_server: RepositoryServer,
    headers: dict[str, str],
    nats_url: str,
    tmp_path: Path,
) -> None:
    async with start_service(build_app(backup_settings), headers=headers) as api:
        event_a, plan_a, config_a = await _practice(api, nats_url, tmp_path, "a")
        _, plan_b, config_b = await _practice(api, nats_url, tmp_path, "b")
        assert plan_a["repository_user"] != plan_b["repository_user"]
        b = await run_and_report(config_b)
        assert b.run.status == "succeeded", b.run.error
        b_snapshot = b.run.snapshot_id
        assert b_snapshot is not None

        # A's copies: one today, one dated 45 days ago; their reports are held back so that
        # backup-svc's maintenance has not applied the history yet.
        restic_a = await restic_of(config_a)
        agent_plan_a = await _agent_plan(config_a)
        now = datetime.now(UTC)
        for when in (now, now - timedelta(days=45)):
            outcome = await run_once(
                agent_plan_a,
                restic=restic_a,
                dumps=DumpRunner(),
                local_databases=[],
                staging_dir=tmp_path / "st-a",
                snapshot_time=when,
            )
            assert outcome.run.status == "succeeded", outcome.run.error
        a_snapshots = await restic_a.snapshots()
        assert len(a_snapshots) == 2

        # With A's user, B's repository cannot be listed, read, deleted or overwritten — not
        # even with B's encryption password in hand.
        plan_for_b = await _agent_plan(config_b)
        a_user = _auth(config_a)
        config = AgentConfig.load(config_a)
        assert config.repository_username
        assert config.repository_password
        b_with_a_user = Restic(
            Repository(
                location=rest_location(
                    plan_for_b.repository.location,
                    config.repository_username,
                    config.repository_password,
                ),
                password=plan_for_b.repository.password,
            ),
            lock_wait=0,
        )
        with pytest.raises(ResticError, match="403"):
            await b_with_a_user.snapshots()
        b_root = f"{repository_server.url}/{plan_b['repository_user']}"
        a_root = f"{repository_server.url}/{plan_a['repository_user']}"
        b_pack = next(p for p in (repository_server.root / plan_b["repository_user"] / "data")
                      .rglob("*") if p.is_file())  # fmt: skip
        a_pack = next(p for p in (repository_server.root / plan_a["repository_user"] / "data")
                      .rglob("*") if p.is_file())  # fmt: skip
        v2 = {"Accept": "application/vnd.x.restic.rest.v2"}
        async with httpx.AsyncClient(auth=a_user, timeout=30) as http:
            attempts = {
                "list B's snapshots": await http.get(f"{b_root}/snapshots/", headers=v2),
                "read B's config": await http.get(f"{b_root}/config"),
                "read B's data": await http.get(f"{b_root}/data/{b_pack.name}"),
                "delete B's snapshot": await http.delete(f"{b_root}/snapshots/{b_snapshot}"),
                "delete B's data": await http.delete(f"{b_root}/data/{b_pack.name}"),
                "overwrite B's config": await http.post(f"{b_root}/config", content=b"x"),
                "create a repository for B": await http.post(f"{b_root}/?create=true"),
                # …and in its own repository, A can only add:
                "delete A's snapshot": await http.delete(f"{a_root}/snapshots/{a_snapshots[0].id}"),
                "delete A's data": await http.delete(f"{a_root}/data/{a_pack.name}"),
                "overwrite A's config": await http.post(f"{a_root}/config", content=b"x"),
                "overwrite A's data": await http.post(
                    f"{a_root}/data/{a_pack.name}", content=b"ransom"
                ),
            }
            refused = {what: r.status_code for what, r in attempts.items()}
            assert refused == dict.fromkeys(attempts, 403)
            assert (await http.get(f"{a_root}/config")).status_code == 200  # its own: readable
        assert b_pack.stat().st_size > 6
        assert [s.id for s in await (await restic_of(config_b)).snapshots()] == [
            s.id for s in await (await restic_of(config_b)).snapshots()
        ]
        assert len(await (await restic_of(config_b)).snapshots()) == 1

        # A's own `restic forget` is refused by the server: the history stays.
        refusal = await _forget_is_refused(restic_a, a_snapshots[0].id)
        assert "403" in refusal
        assert [s.id for s in await restic_a.snapshots()] == [s.id for s in a_snapshots]

        # K3: A's contract ends → A's storage user is gone at once; B is untouched.
        await publish_event(nats_url, ended(event_a))

        async def a_refused() -> bool:
            async with httpx.AsyncClient(auth=a_user, timeout=30) as http:
                return (await http.get(f"{a_root}/config")).status_code == 401

        assert await eventually(a_refused, timeout=30)
        with pytest.raises(ResticError, match="401"):
            await restic_a.snapshots()
        b_again = await run_and_report(config_b)
        assert b_again.run.status == "succeeded", b_again.run.error

        # backup-svc's own access still applies the history: forget --keep-within 30d --prune.
        ctx = Backups.from_settings(backup_settings)
        conn = await connect(backup_settings.database_url)
        try:
            row = await conn.fetchrow("SELECT * FROM plans WHERE id = $1", uuid.UUID(plan_a["id"]))
        finally:
            await conn.close()
        assert row is not None
        assert row["status"] == "ended"
        done = await maintenance.run(ctx, row, datetime.now(UTC))
        assert done.ok, done.detail
        old = min(a_snapshots, key=lambda s: s.time)
        assert done.removed == [old.id]
        kept = await maintenance.own_restic(ctx, row).snapshots()
        assert [s.id for s in kept] == [s.id for s in a_snapshots if s.id != old.id]
