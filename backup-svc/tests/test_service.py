"""backup-svc with its agent: real restic, a real PostgreSQL, a real PARTAGE folder, real NATS."""

from __future__ import annotations

import asyncio
import base64
import io
import os
import sys
import tarfile
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from backup_helpers import (
    PG_DUMP,
    PG_RESTORE,
    activated,
    ended,
    eventually,
    psql,
    read_tree,
    run,
    with_db,
    write_tree,
)
from prisme_backup import domain
from prisme_backup.agent.client import AgentRefused, ControlPlane
from prisme_backup.agent.config import AgentConfig, LocalDatabase
from prisme_backup.agent.dumps import DumpRunner
from prisme_backup.agent.protocol import RepositoryAccess
from prisme_backup.agent.restic import Restic, ResticError
from prisme_backup.agent.runner import restic_for, run_once
from prisme_backup.agent.service import _keep, daemon, enrol, run_and_report
from prisme_backup.app import build_app
from prisme_backup.service import watch
from prisme_backup.service.context import Backups
from prisme_backup.settings import BackupSettings
from prisme_chassis.db import connect
from prisme_events import ContractActivated
from prisme_testing.plugin import collect_events, publish_event, start_service


async def plan_of(api: httpx.AsyncClient, client_id: uuid.UUID) -> dict[str, Any] | None:
    plans = (await api.get("/v1/plans", params={"client_id": str(client_id)})).json()["items"]
    return plans[0] if plans else None


async def new_plan(api: httpx.AsyncClient, nats_url: str, **patch: Any) -> dict[str, Any]:
    client_id = uuid.uuid4()
    event = activated(client_id)
    await publish_event(nats_url, event)
    plan = await eventually(lambda: plan_of(api, client_id))
    assert plan["contract_id"] == str(event.contract_id)
    body = {"check_parts": 1, "restore_every_days": 1, **patch}
    resp = await api.patch(f"/v1/plans/{plan['id']}", json=body)
    assert resp.status_code == 200, resp.text
    result: dict[str, Any] = resp.json()
    return result


async def enrolled(
    api: httpx.AsyncClient,
    plan_id: str,
    tmp_path: Path,
    databases: list[LocalDatabase] | None = None,
    name: str = "agent",
) -> Path:
    resp = await api.post(f"/v1/plans/{plan_id}/enrolment-tokens")
    assert resp.status_code == 201, resp.text
    token = resp.json()["token"]
    config_path = tmp_path / f"{name}.json"
    config = AgentConfig(
        server_url=str(api.base_url),
        staging_dir=tmp_path / f"{name}-staging",
        pg_dump=PG_DUMP,
        databases=databases or [],
    )
    await enrol(config_path, config, token, "srv-cabinet")
    assert oct(config_path.stat().st_mode & 0o777) == "0o600"
    # The token is single-use.
    again = await api.post("/v1/agent/enrol", json={"token": token, "hostname": "x"})
    assert again.status_code == 401
    return config_path


async def restic_of(config_path: Path) -> Restic:
    """restic as the agent reaches its repository: the repository server, its own user."""
    config = AgentConfig.load(config_path)
    assert config.repository_username
    assert config.repository_password
    access = RepositoryAccess(
        username=config.repository_username, password=config.repository_password
    )
    async with ControlPlane(config.server_url, config.credential) as cp:
        plan = await cp.plan()
    return restic_for(plan, access, binary="restic", cache_dir=None, host="test")


async def checks_of(api: httpx.AsyncClient, plan_id: str, count: int) -> list[dict[str, Any]]:
    """The plan's checks once there are ``count`` (the integrity checks are backup-svc's own,
    run by its maintenance worker after each copy)."""

    async def probe() -> list[dict[str, Any]] | None:
        page = (await api.get(f"/v1/plans/{plan_id}/checks", params={"limit": 200})).json()
        checks: list[dict[str, Any]] = page["items"]
        return checks if len(checks) >= count else None

    return await eventually(probe, timeout=60)


@pytest.fixture
def headers(make_token: Callable[..., str]) -> dict[str, str]:
    scopes = ("backups:read", "backups:write", "backups:export")
    return {"Authorization": f"Bearer {make_token(scopes=scopes)}"}


@pytest.fixture
def no_export_headers(make_token: Callable[..., str]) -> dict[str, str]:
    """Reading plans and managing agents, but not downloading a client's data (O1)."""
    return {"Authorization": f"Bearer {make_token(scopes=('backups:read', 'backups:write'))}"}


async def _every_row(api: Any, path: str, key: str, **params: Any) -> list[str]:
    """Every row of ``path`` a page of ``limit`` at a time, following ``next_cursor``."""
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(50):
        r = await api.get(path, params={**params, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        assert len(r.json()["items"]) <= params["limit"]
        seen += [row[key] for row in r.json()["items"]]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return seen
    raise AssertionError(f"{path}: no last page")


async def test_backup_twice_restore_both_then_contract_end_export_and_purge(
    backup_settings: BackupSettings,
    headers: dict[str, str],
    no_export_headers: dict[str, str],
    nats_url: str,
    practice_pg: str,
    tmp_path: Path,
) -> None:
    db = f"cab_{uuid.uuid4().hex[:8]}"
    await psql(practice_pg, f"CREATE DATABASE {db}")
    uri = with_db(practice_pg, db)
    await psql(uri, "CREATE TABLE rdv (id int primary key, who text)")
    await psql(uri, "INSERT INTO rdv VALUES (1, 'Payet'), (2, 'Grondin')")
    share = tmp_path / "PARTAGE"
    write_tree(share, {"courriers/lettre.txt": b"Bonjour", "scan.pdf": os.urandom(300_000)})
    v1 = read_tree(share)

    async with start_service(build_app(backup_settings), headers=headers) as api:
        plan = await new_plan(api, nats_url, share_path=str(share), databases=[{"name": "medical"}])
        assert plan["daily_at"] == "21:00:00"
        assert plan["timezone"] == "Indian/Reunion"
        assert plan["quota_bytes"] == 10**12
        assert plan["history_days"] == 30
        local = [LocalDatabase(name="medical", engine="postgresql", conninfo=uri)]
        config_path = await enrolled(api, plan["id"], tmp_path, local)

        first = await run_and_report(config_path)
        assert first.run.status == "succeeded", first.run.error
        assert [(c.kind, c.ok) for c in first.checks] == [("restore", True)]

        await psql(uri, "UPDATE rdv SET who = 'Técher' WHERE id = 2")
        await psql(uri, "INSERT INTO rdv VALUES (3, 'Boyer')")
        (share / "courriers/lettre.txt").write_bytes(b"Bonjour, version 2")
        (share / "scan.pdf").unlink()
        (share / "nouveau.odt").write_bytes(b"odt")
        v2 = read_tree(share)
        # The second copy through the installed entry point, as a real process.
        await run(sys.executable, "-m", "prisme_backup.agent", "--config", str(config_path), "run")

        snaps = (await api.get(f"/v1/plans/{plan['id']}/snapshots")).json()["items"]
        assert len(snaps) == 2
        runs = (await api.get(f"/v1/plans/{plan['id']}/runs")).json()["items"]
        assert [r["status"] for r in runs] == ["succeeded", "succeeded"]
        checks = await checks_of(api, plan["id"], 3)
        # The test restore is periodic: done once today, not again on the same day; backup-svc
        # checked the repository's integrity after each copy.
        assert sorted(c["kind"] for c in checks) == ["integrity", "integrity", "restore"]
        assert all(c["ok"] for c in checks)
        completed = await collect_events(nats_url, "backup.snapshot_completed", 2)
        assert {e.snapshot_id for e in completed} == {s["snapshot_id"] for s in snaps}  # type: ignore[attr-defined]

        restic = await restic_of(config_path)
        staging = tmp_path / "agent-staging" / plan["id"] / "databases" / "medical.dump"
        for snap, files, rows in (
            (snaps[1], v1, "1|Payet\n2|Grondin"),
            (snaps[0], v2, "1|Payet\n2|Técher\n3|Boyer"),
        ):
            target = tmp_path / f"restore-{snap['snapshot_id']}"
            await restic.restore(snap["snapshot_id"], target)
            assert read_tree(target / str(share).lstrip("/")) == files
            restored_db = f"r_{uuid.uuid4().hex[:8]}"
            await psql(practice_pg, f"CREATE DATABASE {restored_db}")
            dump = target / str(staging).lstrip("/")
            await run(PG_RESTORE, "--no-owner", "-d", with_db(practice_pg, restored_db), str(dump))
            got = await psql(
                with_db(practice_pg, restored_db), "SELECT id, who FROM rdv ORDER BY id"
            )
            assert got == rows

        # K3: the contract ends → scheduling stops, the agent is refused at once.
        activation = (await collect_events(nats_url, "contract.activated", 1))[0]
        assert isinstance(activation, ContractActivated)
        await publish_event(nats_url, ended(activation))

        async def is_ended() -> bool:
            return (await api.get(f"/v1/plans/{plan['id']}")).json()["status"] == "ended"

        await eventually(is_ended)
        with pytest.raises(AgentRefused):
            await run_and_report(config_path)
        # …and so are its credentials on the repository server (K3).
        with pytest.raises(ResticError, match="401"):
            await restic.snapshots()
        await asyncio.wait_for(daemon(config_path), 10)  # the daily loop stops by itself
        agents = (await api.get(f"/v1/plans/{plan['id']}/agents")).json()["items"]
        assert [a["status"] for a in agents] == ["revoked"]
        assert (await api.post(f"/v1/plans/{plan['id']}/enrolment-tokens")).status_code == 409

        # The client's last full export.
        export = (await api.post(f"/v1/plans/{plan['id']}/exports")).json()

        async def export_ready() -> dict[str, Any] | None:
            row: dict[str, Any] = (await api.get(f"/v1/exports/{export['id']}")).json()
            return row if row["status"] in ("ready", "failed") else None

        done = await eventually(export_ready, timeout=60)
        assert done["status"] == "ready", done
        # produced by a chassis job keyed by the export (restic outside any transaction)
        ran = (await api.get("/v1/jobs", params={"kind": "backup.export"})).json()["items"]
        assert [(j["key"], j["state"]) for j in ran] == [(f"export:{export['id']}", "succeeded")]
        path = f"/v1/exports/{export['id']}/archive"
        assert (await api.get(path, headers=no_export_headers)).status_code == 403
        archive = await api.get(path)
        assert archive.status_code == 200
        # O3: who downloaded the health data, and when (the refused call wrote nothing)
        trail = (await api.get("/v1/audit", params={"action": "export.downloaded"})).json()
        assert [(e["target_id"], e["actor"]) for e in trail["items"]] == [
            (export["id"], "op-alice")
        ]
        with tarfile.open(fileobj=io.BytesIO(archive.content)) as tar:
            names = tar.getnames()
            member = tar.extractfile(str(share / "nouveau.odt").lstrip("/"))
            assert member is not None
            assert member.read() == b"odt"
        assert any(n.endswith("medical.dump") for n in names)
        # K3: on disk the export is sealed (no tar in clear, not even a partial one).
        on_disk = [p for p in (backup_settings.data_dir / "exports").rglob("*") if p.is_file()]
        assert [p.name for p in on_disk] == [f"{export['id']}.tar.sealed"]
        assert not tarfile.is_tarfile(on_disk[0])
        assert archive.content not in on_disk[0].read_bytes()

        # The history has not run out yet: the worker keeps the copies.
        plan_now = (await api.get(f"/v1/plans/{plan['id']}")).json()
        assert plan_now["status"] == "ended"
        location = Path(plan_now["repository_location"])
        assert await asyncio.to_thread(location.is_dir)

        # 30 days later, the purge destroys the repository and records it.
        purge_at = datetime.fromisoformat(plan_now["purge_after"]) + timedelta(minutes=1)
        ctx = Backups.from_settings(backup_settings)
        conn = await connect(backup_settings.database_url)
        try:
            async with conn.transaction():
                assert await watch.purge_due(conn, ctx, purge_at - timedelta(days=2)) == []
            async with conn.transaction():
                assert await watch.purge_due(conn, ctx, purge_at) == [plan["id"]]
        finally:
            await conn.close()
        assert not await asyncio.to_thread(location.exists)
        purged = (await api.get(f"/v1/plans/{plan['id']}")).json()
        assert purged["status"] == "purged"
        assert (await api.get(f"/v1/plans/{plan['id']}/snapshots")).json()["items"] == []
        record = (await api.get(f"/v1/plans/{plan['id']}/purges")).json()["items"]
        assert len(record) == 1
        assert record[0]["snapshots"] == 2
        events = await collect_events(nats_url, "backup.purged", 1)
        assert [str(e.plan_id) for e in events] == [plan["id"]]  # type: ignore[attr-defined]
        assert (await api.get(f"/v1/exports/{export['id']}")).json()["status"] == "purged"
        assert (await api.post(f"/v1/plans/{plan['id']}/exports")).status_code == 409


async def test_history_keeps_30_days_and_a_day_without_copy_is_missed(
    backup_settings: BackupSettings, headers: dict[str, str], nats_url: str, tmp_path: Path
) -> None:
    share = tmp_path / "PARTAGE"
    write_tree(share, {"f.txt": b"v0"})
    async with start_service(build_app(backup_settings), headers=headers) as api:
        plan = await new_plan(api, nats_url, share_path=str(share), restore_every_days=30)
        config_path = await enrolled(api, plan["id"], tmp_path)
        now = datetime.now(UTC)
        for age in (45, 41, 20, 0):
            (share / "f.txt").write_bytes(f"{age} days ago".encode())
            outcome = await run_and_report(config_path, snapshot_time=now - timedelta(days=age))
            assert outcome.run.status == "succeeded", outcome.run.error

        async def ages() -> list[int] | None:
            snaps = (await api.get(f"/v1/plans/{plan['id']}/snapshots")).json()["items"]
            got = sorted(
                round((now - datetime.fromisoformat(s["taken_at"])).total_seconds() / 86400)
                for s in snaps
            )
            return got if got == [0, 20] else None

        # backup-svc applies the history (the agent cannot delete anything).
        assert await eventually(ages, timeout=60) == [0, 20]
        restic = await restic_of(config_path)
        assert len(await restic.snapshots()) == 2

        # Today is covered; nothing for the next two days → two missed days.
        today = domain.business_day(now)
        later = domain.slot(today + timedelta(days=2), domain.DEFAULT_DAILY_AT) + timedelta(hours=7)
        conn = await connect(backup_settings.database_url)
        try:
            async with conn.transaction():
                raised = await watch.find_missed(conn, later)
            async with conn.transaction():
                assert await watch.find_missed(conn, later) == []  # once per day
        finally:
            await conn.close()
        missed_days = sorted(d for _, d in raised)
        assert today not in missed_days
        assert missed_days[-2:] == [today + timedelta(days=1), today + timedelta(days=2)]
        alerts = (await api.get("/v1/alerts", params={"plan_id": plan["id"]})).json()["items"]
        assert {a["day"] for a in alerts if a["kind"] == "missed"} == {
            d.isoformat() for d in missed_days
        }
        events = await collect_events(nats_url, "backup.missed", len(missed_days))
        assert sorted(e.day for e in events) == missed_days  # type: ignore[attr-defined]
        # every list pages by cursor: each row once, in the list's order, over pages of 1
        base = f"/v1/plans/{plan['id']}"
        for path, key, params in (
            (f"{base}/runs", "id", {}),
            (f"{base}/snapshots", "snapshot_id", {}),
            ("/v1/alerts", "id", {"plan_id": plan["id"]}),
        ):
            whole = (await api.get(path, params=params)).json()["items"]
            assert len(whole) > 1, path
            assert await _every_row(api, path, key, **params, limit=1) == [r[key] for r in whole]
            bad = await api.get(path, params={"cursor": "pas-un-curseur"})
            assert bad.status_code == 422, bad.text
            assert bad.json()["type"].endswith("invalid-cursor")
        runs = (await api.get(f"{base}/runs")).json()["items"]
        assert len(runs) == 4
        assert [r["started_at"] for r in runs] == sorted(
            (r["started_at"] for r in runs), reverse=True
        )


async def test_agents_checks_and_purges_page_newest_first_by_cursor(
    backup_settings: BackupSettings, headers: dict[str, str], nats_url: str
) -> None:
    """Each of a plan's agents, checks and purges once, newest first (the id breaking ties
    between rows of the same instant), over pages of 1 and 2; a bad cursor answers 422."""
    async with start_service(build_app(backup_settings), headers=headers) as api:
        plan = await new_plan(api, nats_url)
        plan_id = uuid.UUID(plan["id"])
        base = datetime(2026, 3, 1, 21, 0, 0, 123456, tzinfo=UTC)
        # three rows share an instant, so only the tiebreaker orders them
        moments = [base, base, base, base + timedelta(hours=1), base - timedelta(days=1)]
        conn = await connect(backup_settings.database_url)
        try:
            agents = [(uuid.uuid4(), at) for at in moments]
            for i, (agent_id, at) in enumerate(agents):
                await conn.execute(
                    "INSERT INTO agents (id, plan_id, hostname, credential_hash, status,"
                    " enrolled_at) VALUES ($1, $2, $3, $4, 'active', $5)",
                    agent_id,
                    plan_id,
                    f"srv-{i}",
                    os.urandom(32),
                    at,
                )
            checks = [(uuid.uuid4(), at) for at in moments]
            for check_id, at in checks:
                await conn.execute(
                    "INSERT INTO checks (id, plan_id, agent_id, kind, ok, checked_at)"
                    " VALUES ($1, $2, $3, 'integrity', true, $4)",
                    check_id,
                    plan_id,
                    agents[0][0],
                    at,
                )
            purges = [(uuid.uuid4(), at) for at in moments]
            for purge_id, at in purges:
                await conn.execute(
                    "INSERT INTO purges (id, plan_id, client_id, repository_location,"
                    " snapshots, purged_at) VALUES ($1, $2, $3, $4, 0, $5)",
                    purge_id,
                    plan_id,
                    uuid.UUID(plan["client_id"]),
                    plan["repository_location"],
                    at,
                )
        finally:
            await conn.close()

        for route, rows in (("agents", agents), ("checks", checks), ("purges", purges)):
            path = f"/v1/plans/{plan['id']}/{route}"
            newest_first = [
                str(i) for i, _ in sorted(rows, key=lambda r: (r[1], r[0]), reverse=True)
            ]
            whole = (await api.get(path)).json()
            assert [r["id"] for r in whole["items"]] == newest_first, path
            assert whole["next_cursor"] is None
            for limit in (1, 2):
                paged = await _every_row(api, path, "id", limit=limit)
                assert len(set(paged)) == len(paged), path  # pages are disjoint
                assert paged == newest_first, path  # ordered, and together every row
            bad = await api.get(path, params={"cursor": "pas-un-curseur"})
            assert bad.status_code == 422, bad.text
            assert bad.json()["type"].endswith("invalid-cursor")
            # a cursor of another list (a snapshot's key) is not one of this route's either
            other = base64.urlsafe_b64encode(f"{base.isoformat()}|{b'x'.hex()}".encode())
            wrong = await api.get(path, params={"cursor": other.decode().rstrip("=")})
            assert wrong.status_code == 422, wrong.text
            assert wrong.json()["type"].endswith("invalid-cursor")


async def test_corrupted_pack_is_caught_and_raises_an_alert(
    backup_settings: BackupSettings, headers: dict[str, str], nats_url: str, tmp_path: Path
) -> None:
    share = tmp_path / "PARTAGE"
    write_tree(share, {"radio.dcm": os.urandom(600_000), "note.txt": b"x"})
    async with start_service(build_app(backup_settings), headers=headers) as api:
        plan = await new_plan(api, nats_url, share_path=str(share), restore_every_days=30)
        config_path = await enrolled(api, plan["id"], tmp_path)
        first = await run_and_report(config_path)
        assert [c.ok for c in first.checks] == [True]
        assert [c["ok"] for c in await checks_of(api, plan["id"], 2)] == [True, True]
        location = Path(plan["repository_location"])
        packs = [p for p in (location / "data").rglob("*") if p.is_file()]
        biggest = max(packs, key=lambda p: p.stat().st_size)
        raw = bytearray(biggest.read_bytes())
        raw[len(raw) // 2] ^= 0xFF
        biggest.chmod(0o600)
        biggest.write_bytes(bytes(raw))

        second = await run_and_report(config_path)
        assert second.run.status == "succeeded", second.run.error
        checks = await checks_of(api, plan["id"], 3)
        integrity = [c for c in checks if c["kind"] == "integrity"]
        assert sorted(c["ok"] for c in integrity) == [False, True]
        alerts = (await api.get("/v1/alerts", params={"plan_id": plan["id"]})).json()["items"]
        assert [a["kind"] for a in alerts] == ["check_failed"]
        assert alerts[0]["detail"].startswith("integrity check failed")
        events = await collect_events(nats_url, "backup.check_failed", 1)
        assert [(str(e.plan_id), e.check) for e in events] == [(plan["id"], "integrity")]  # type: ignore[attr-defined]


async def test_plans_are_listed_by_practice_name_with_case_and_accents_ignored(
    backup_settings: BackupSettings, headers: dict[str, str], nats_url: str
) -> None:
    names = ["Zèbre Santé", "cabinet de l'Étang", "Écoles du Sud", "Abeille", "Œuvre médicale"]
    async with start_service(build_app(backup_settings), headers=headers) as api:
        clients = [uuid.uuid4() for _ in names]
        for client_id, name in zip(clients, names, strict=True):
            await publish_event(nats_url, activated(client_id, name=name))
        for client_id in clients:
            await eventually(lambda c=client_id: plan_of(api, c))
        by_name = await _every_row(api, "/v1/plans", "client_name", limit=2, order="name")
        # byte order (the server's collation C) would put both É and Œ after Z
        assert by_name == [
            "Abeille",
            "cabinet de l'Étang",
            "Écoles du Sud",
            "Œuvre médicale",
            "Zèbre Santé",
        ]
        # the default order stays the plans' creation (one consumer batch may share a time)
        created = await _every_row(api, "/v1/plans", "client_name", limit=2)
        assert sorted(created) == sorted(names)
        # a cursor carries its order: one of the other order is refused, not misread
        first = (await api.get("/v1/plans", params={"limit": 2})).json()
        wrong = await api.get("/v1/plans", params={"order": "name", "cursor": first["next_cursor"]})
        assert wrong.status_code == 422, wrong.text
        assert wrong.json()["type"].endswith("invalid-cursor")
        assert (await api.get("/v1/plans", params={"order": "size"})).status_code == 422


async def test_plans_follow_contract_events_idempotently_and_by_version(
    backup_settings: BackupSettings, headers: dict[str, str], nats_url: str
) -> None:
    async with start_service(build_app(backup_settings), headers=headers) as api:
        a, b, c, d, marker = (uuid.uuid4() for _ in range(5))
        act_a = activated(a)
        await publish_event(nats_url, act_a)
        await publish_event(nats_url, act_a.model_copy(update={"event_id": uuid.uuid4()}))
        await publish_event(nats_url, activated(b, includes=["video_recordings"]))
        act_c = activated(c)
        await publish_event(nats_url, ended(act_c, version=3))  # seen before its activation
        await publish_event(nats_url, act_c)
        act_d = activated(d)
        await publish_event(nats_url, act_d)
        await publish_event(nats_url, ended(act_d, renewal_includes=["cloud_backup"]))
        await publish_event(nats_url, activated(marker))
        await eventually(lambda: plan_of(api, marker))

        plans = (await api.get("/v1/plans")).json()["items"]
        by_client = {p["client_id"]: p for p in plans}
        assert set(by_client) == {str(a), str(d), str(marker)}
        assert await _every_row(api, "/v1/plans", "id", limit=2) == [p["id"] for p in plans]
        bad = await api.get("/v1/plans", params={"cursor": "pas-un-curseur"})
        assert bad.status_code == 422, bad.text
        assert bad.json()["type"].endswith("invalid-cursor")
        assert by_client[str(d)]["status"] == "active"  # renewed with the backup: carries over
        locations = {p["repository_location"] for p in plans}
        assert len(locations) == 3

        # Operators edit sources and schedule; bad input changes nothing.
        pid = by_client[str(a)]["id"]
        bad = await api.patch(f"/v1/plans/{pid}", json={"daily_at": "25:00"})
        assert bad.status_code == 422
        assert bad.headers["content-type"].startswith("application/problem+json")
        dup = [{"name": "x"}] * 2
        assert (await api.patch(f"/v1/plans/{pid}", json={"databases": dup})).status_code == 409
        # A plan names databases; a command or a connection from the server is refused (§7).
        command = [{"name": "x", "engine": "command", "command": ["sh", "-c", "id"]}]
        resp = await api.patch(f"/v1/plans/{pid}", json={"databases": command})
        assert resp.status_code == 422
        conninfo = [{"name": "m", "engine": "postgresql", "conninfo": "host=evil.example"}]
        resp = await api.patch(f"/v1/plans/{pid}", json={"databases": conninfo})
        assert resp.status_code == 422
        for bad_body in ({"daily_at": "21:00:00+02:00"}, {"share_path": "D:/PART\x00AGE"}):
            assert (await api.patch(f"/v1/plans/{pid}", json=bad_body)).status_code == 422
        nulls = {"databases": None, "daily_at": None}
        assert (await api.patch(f"/v1/plans/{pid}", json=nulls)).status_code == 200
        ok = await api.patch(
            f"/v1/plans/{pid}", json={"daily_at": "22:30", "share_path": "D:/PARTAGE"}
        )
        assert ok.json()["daily_at"] == "22:30:00"
        assert ok.json()["share_path"] == "D:/PARTAGE"

        # Operator routes want a token with the right scope; agent routes want agent credentials.
        async with httpx.AsyncClient(base_url=api.base_url) as anon:
            assert (await anon.get("/v1/plans")).status_code == 401
            assert (await anon.get("/v1/alerts")).status_code == 401
            assert (await anon.get("/v1/agent/plan")).status_code == 401
            forged = {"Authorization": "Bearer " + "A" * 43}
            assert (await anon.get("/v1/agent/plan", headers=forged)).status_code == 401
            expired = await anon.post("/v1/agent/enrol", json={"token": "B" * 43, "hostname": "h"})
            assert expired.status_code == 401


async def test_repository_password_is_sealed_and_never_in_events(
    backup_settings: BackupSettings, headers: dict[str, str], nats_url: str, tmp_path: Path
) -> None:
    share = tmp_path / "PARTAGE"
    write_tree(share, {"a": b"a"})
    async with start_service(build_app(backup_settings), headers=headers) as api:
        plan = await new_plan(api, nats_url, share_path=str(share))
        config_path = await enrolled(api, plan["id"], tmp_path)
        assert (await run_and_report(config_path)).run.status == "succeeded"
        config = AgentConfig.load(config_path)
        async with ControlPlane(config.server_url, config.credential) as cp:
            password = (await cp.plan()).repository.password
        assert config.credential is not None
        conn = await connect(backup_settings.database_url)
        try:
            for table in ("plans", "agents", "enrolment_tokens", "runs", "checks", "outbox"):
                rows = await conn.fetch(f"SELECT * FROM {table}")  # noqa: S608
                dumped = repr([dict(r) for r in rows])
                assert password not in dumped
                assert config.credential not in dumped
            sealed = await conn.fetchval(
                "SELECT repository_password FROM plans WHERE id = $1", uuid.UUID(plan["id"])
            )
            keyring = Backups.from_settings(backup_settings).keyring
            assert keyring.sealed_with(sealed) == keyring.current_id  # names its key
        finally:
            await conn.close()
        events = await collect_events(nats_url, "backup.>", 1)
        assert events
        assert all(password not in e.model_dump_json() for e in events)


async def test_failed_copy_and_over_quota_raise_alerts_and_a_good_copy_resolves(
    backup_settings: BackupSettings, headers: dict[str, str], nats_url: str, tmp_path: Path
) -> None:
    share = tmp_path / "PARTAGE"
    write_tree(share, {"radio.dcm": os.urandom(200_000)})
    # K1's quota, tiny so that one copy outgrows it.
    settings = backup_settings.model_copy(update={"quota_bytes": 50_000})
    async with start_service(build_app(settings), headers=headers) as api:
        plan = await new_plan(api, nats_url, share_path=str(share), restore_every_days=30)
        assert plan["quota_bytes"] == 50_000
        config_path = await enrolled(api, plan["id"], tmp_path)
        config = AgentConfig.load(config_path)
        agent = {"Authorization": f"Bearer {config.credential}"}
        now = datetime.now(UTC)
        day = domain.business_day(now)
        base = {
            "day": day.isoformat(),
            "started_at": now.isoformat(),
            "finished_at": now.isoformat(),
        }
        report = {
            **base,
            "report_id": str(uuid.uuid4()),
            "status": "failed",
            "error": "pg_dump: connection refused",
        }
        for _ in range(2):  # a re-sent report is recorded once
            failed = await api.post("/v1/agent/runs", headers=agent, json=report)
            assert failed.status_code == 201
            assert failed.json()["run_id"] == report["report_id"]
        nul = await api.post("/v1/agent/runs", headers=agent, json={**report, "error": "a\x00b"})
        assert nul.status_code == 422
        # The agent's report is validated like any input: nothing recorded when it is wrong.
        bogus = await api.post(
            "/v1/agent/runs", headers=agent, json={**base, "status": "succeeded"}
        )
        assert bogus.status_code == 422
        alerts = (await api.get("/v1/alerts", params={"plan_id": plan["id"]})).json()["items"]
        assert [(a["kind"], a["day"]) for a in alerts] == [("failed", day.isoformat())]
        assert "connection refused" in alerts[0]["detail"]
        missed = await collect_events(nats_url, "backup.missed", 1)
        assert [e.day for e in missed] == [day]  # type: ignore[attr-defined]

        # A good copy resolves the day's alert; backup-svc measures the repository itself
        # (never trusting the agent's figure) and finds it over quota.
        good = await run_and_report(config_path)
        assert good.run.status == "succeeded", good.run.error

        async def over_quota() -> dict[str, Any] | None:
            row: dict[str, Any] = (await api.get(f"/v1/plans/{plan['id']}")).json()
            return row if row["over_quota"] else None

        measured = await eventually(over_quota, timeout=60)
        assert measured["repository_bytes"] > 50_000
        alerts = (await api.get("/v1/alerts", params={"plan_id": plan["id"]})).json()["items"]
        by_kind = {a["kind"]: a for a in alerts}
        assert by_kind["failed"]["resolved_at"] is not None
        assert by_kind["over_quota"]["resolved_at"] is None
        open_alerts = (await api.get("/v1/alerts", params={"open_only": "true"})).json()["items"]
        assert [a["kind"] for a in open_alerts] == ["over_quota"]
        quota = await collect_events(nats_url, "backup.check_failed", 1)
        checks = (await api.get(f"/v1/plans/{plan['id']}/checks")).json()["items"]
        assert [e.check for e in quota] == ["quota"], (quota, checks)  # type: ignore[attr-defined]

        # Over quota, the plan takes no new copy: the agent stops, and the repository server
        # refuses its user even if it tried.
        stopped = await run_and_report(config_path)
        assert stopped.run.status == "failed"
        assert "quota" in (stopped.run.error or "")
        assert plan["repository_user"] not in settings_users(backup_settings)
        with pytest.raises(ResticError, match="401"):
            await (await restic_of(config_path)).snapshots()

        # An operator raises the quota: backup-svc measures again, the agent writes again.
        raised = await api.patch(f"/v1/plans/{plan['id']}", json={"quota_bytes": 10**9})
        assert raised.status_code == 200

        async def under_quota() -> dict[str, Any] | None:
            row: dict[str, Any] = (await api.get(f"/v1/plans/{plan['id']}")).json()
            return None if row["over_quota"] else row

        await eventually(under_quota, timeout=60)
        assert plan["repository_user"] in settings_users(backup_settings)
        # O3: the maintenance's quota decisions have their rows (over, then under)
        trail = await api.get(
            "/v1/audit", params={"action": "backup.plan_maintained", "target": plan["id"]}
        )
        flips = [
            (r["actor"], r["before"]["over_quota"], r["after"]["over_quota"])
            for r in reversed(trail.json()["items"])
        ]
        assert flips == [
            ("system:backup-maintenance", False, True),
            ("system:backup-maintenance", True, False),
        ]
        again = await run_and_report(config_path)
        assert again.run.status == "succeeded", again.run.error
        open_alerts = (await api.get("/v1/alerts", params={"open_only": "true"})).json()["items"]
        assert [a["kind"] for a in open_alerts] == []


def settings_users(settings: BackupSettings) -> list[str]:
    """The users of the repository server's htpasswd file, as backup-svc wrote it."""
    assert settings.repository_users_file is not None
    lines = settings.repository_users_file.read_text().splitlines()
    return [line.split(":", 1)[0] for line in lines if line]


async def test_reports_survive_an_agent_crash_and_are_sent_once(
    backup_settings: BackupSettings, headers: dict[str, str], nats_url: str, tmp_path: Path
) -> None:
    share = tmp_path / "PARTAGE"
    write_tree(share, {"a.txt": b"a"})
    async with start_service(build_app(backup_settings), headers=headers) as api:
        plan = await new_plan(api, nats_url, share_path=str(share), restore_every_days=30)
        config_path = await enrolled(api, plan["id"], tmp_path)
        config = AgentConfig.load(config_path)
        async with ControlPlane(config.server_url, config.credential) as cp:
            agent_plan = await cp.plan()
        # A copy made, then the agent dies before reporting: the reports wait on disk.
        restic = await restic_of(config_path)
        lost = await run_once(
            agent_plan,
            restic=restic,
            dumps=DumpRunner(),
            local_databases=[],
            staging_dir=tmp_path / "st",
        )
        kept = _keep(config_path, lost)
        assert kept.exists()
        assert (await api.get(f"/v1/plans/{plan['id']}/runs")).json()["items"] == []

        nxt = await run_and_report(config_path)
        assert not kept.exists()
        runs = (await api.get(f"/v1/plans/{plan['id']}/runs")).json()["items"]
        assert sorted(r["id"] for r in runs) == sorted(str(o.run.report_id) for o in (lost, nxt))
        checks = (await api.get(f"/v1/plans/{plan['id']}/checks")).json()["items"]
        restores = [c for c in checks if c["kind"] == "restore"]
        assert len(restores) == len(lost.checks) + len(nxt.checks)
        events = await collect_events(nats_url, "backup.snapshot_completed", 3, timeout=3)
        assert len(events) == 2
