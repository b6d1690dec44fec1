"""The agent against real restic, a real PostgreSQL and a real PARTAGE folder."""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from datetime import time
from pathlib import Path

import pytest
from backup_helpers import PG_DUMP, PG_RESTORE, psql, read_tree, run, with_db, write_tree
from prisme_backup.agent.config import AgentConfig, LocalDatabase
from prisme_backup.agent.dumps import DumpError, DumpRunner
from prisme_backup.agent.protocol import AgentPlan, DatabaseSourceSpec, RepositorySpec
from prisme_backup.agent.restic import Progress, Repository, Restic, ResticError
from prisme_backup.agent.runner import run_once
from prisme_backup.agent.verify import restore_sample
from pydantic import ValidationError

PASSWORD = "s3cr3t-" + uuid.uuid4().hex


def make_restic(tmp_path: Path) -> Restic:
    return Restic(Repository(str(tmp_path / "repo"), PASSWORD), host="practice")


def make_plan(repo: Path, share: Path | None, databases: list[DatabaseSourceSpec]) -> AgentPlan:
    return AgentPlan(
        plan_id=uuid.uuid4(),
        client_id=uuid.uuid4(),
        databases=databases,
        share_path=str(share) if share else None,
        daily_at=time(21),
        timezone="Indian/Reunion",
        history_days=30,
        quota_bytes=10**12,
        check_parts=1,
        restore_every_days=1,
        restore_sample=5,
        repository=RepositorySpec(location=str(repo), password=PASSWORD),
    )


async def test_init_probes_a_repository_once_until_a_backup_fails(tmp_path: Path) -> None:
    share = tmp_path / "PARTAGE"
    write_tree(share, {"a.txt": b"hello"})
    restic = Restic(Repository(str(tmp_path / "repo"), PASSWORD), cache_dir=tmp_path / "cache")
    assert await restic.init() is True
    restic.binary = str(tmp_path / "no-such-restic")  # a probe would fail to start
    assert await restic.init() is False  # remembered: no restic process
    restic.binary = "restic"
    await restic.backup([share])
    markers = list((tmp_path / "cache").glob("prisme-initialised-*"))
    assert len(markers) == 1
    assert PASSWORD not in markers[0].name
    assert "repo" not in markers[0].name
    # the repository disappears (removed on the server): the backup fails, the next run
    # probes again and initialises a new one
    shutil.rmtree(tmp_path / "repo")
    with pytest.raises(ResticError):
        await restic.backup([share])
    assert not list((tmp_path / "cache").glob("prisme-initialised-*"))
    assert await restic.init() is True
    assert (await restic.backup([share])).files_new == 1


async def test_backup_reports_progress_and_restores_identical_files(tmp_path: Path) -> None:
    share = tmp_path / "PARTAGE"
    files = {"a.txt": b"hello", "sub/b.bin": bytes(range(256)) * 4000, "empty": b""}
    write_tree(share, files)
    restic = make_restic(tmp_path)
    assert await restic.init() is True
    assert await restic.init() is False
    seen: list[Progress] = []
    summary = await restic.backup([share], tags=["prisme"], on_progress=seen.append)
    assert summary.files_new == 3
    assert summary.total_bytes_processed == sum(len(v) for v in files.values())
    assert seen
    assert all(0.0 <= p.percent_done <= 1.0 for p in seen)
    assert max(p.total_bytes for p in seen) <= summary.total_bytes_processed
    snaps = await restic.snapshots()
    assert [s.id for s in snaps] == [s.id for s in snaps if s.id.startswith(summary.snapshot_id)]
    await restic.restore(summary.snapshot_id, tmp_path / "out")
    assert read_tree(tmp_path / "out" / str(share).lstrip("/")) == files
    # The password goes through the environment only.
    assert PASSWORD not in " ".join(restic._argv(["backup", "--json", str(share)]))
    assert restic._env()["RESTIC_PASSWORD"] == PASSWORD


async def test_wrong_password_error_never_shows_the_password(tmp_path: Path) -> None:
    restic = make_restic(tmp_path)
    await restic.init()
    wrong = Restic(Repository(str(tmp_path / "repo"), PASSWORD + "x"))
    result = await wrong.check()
    assert not result.ok
    assert PASSWORD not in result.output


async def test_corrupted_pack_is_caught_by_the_check(tmp_path: Path) -> None:
    share = tmp_path / "PARTAGE"
    write_tree(share, {"big": hashlib.sha256(b"seed").digest() * 40000})
    restic = make_restic(tmp_path)
    await restic.init()
    await restic.backup([share])
    assert (await restic.check(read_data_subset="1/1")).ok
    packs = sorted((tmp_path / "repo" / "data").rglob("*"), key=lambda p: p.stat().st_size)
    biggest = [p for p in packs if p.is_file()][-1]
    raw = bytearray(biggest.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    biggest.chmod(0o600)
    biggest.write_bytes(bytes(raw))
    result = await restic.check(read_data_subset="1/1")
    assert not result.ok
    assert PASSWORD not in result.output


async def test_sampled_restore_detects_a_mismatch(tmp_path: Path) -> None:
    share = tmp_path / "PARTAGE"
    write_tree(share, {f"f{i}": f"content {i}".encode() * 100 for i in range(8)})
    restic = make_restic(tmp_path)
    await restic.init()
    summary = await restic.backup([share])
    good = await restore_sample(restic, summary.snapshot_id, sample=4, seed=1)
    assert good.ok
    assert good.compared == 4
    # A repository whose content no longer matches the source (same size and mtime) is caught.
    target = share / "f3"
    st = target.stat()
    target.write_bytes(b"X" * st.st_size)
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    bad = await restore_sample(restic, summary.snapshot_id, sample=8, seed=1)
    assert not bad.ok
    assert any("f3" in m for m in bad.mismatches)


async def test_pg_dump_custom_format_and_locally_configured_commands(
    tmp_path: Path, practice_pg: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = f"cab_{uuid.uuid4().hex[:8]}"
    await psql(practice_pg, f"CREATE DATABASE {db}")
    uri = with_db(practice_pg, db)
    await psql(
        uri,
        "CREATE TABLE patients (id int primary key, name text);"
        " INSERT INTO patients VALUES (1, 'Hoarau')",
    )
    runner = DumpRunner(pg_dump=PG_DUMP)
    source = LocalDatabase(name=db, engine="postgresql", conninfo=uri)
    result = await runner.dump(source, tmp_path / "st")
    assert result.path.read_bytes()[:5] == b"PGDMP"  # custom format
    listing = await run(PG_RESTORE, "--list", str(result.path))
    assert "patients" in listing
    # A command written by the host's administrator in the local configuration; the password
    # of the local configuration reaches it by environment only.
    monkeypatch.setenv("PGPASSWORD", "inherited-must-not-leak")
    cmd = LocalDatabase(
        name="other",
        engine="command",
        command=["sh", "-c", 'printf "dump of %s/%s" "$PRISME_DB_PASSWORD" "$PGPASSWORD"'],
        extension="sql",
        password="pw1",
    )
    out = await DumpRunner().dump(cmd, tmp_path / "st")
    assert out.path.read_bytes() == b"dump of pw1/"
    src = tmp_path / "src.bin"
    src.write_bytes(b"exported by the software")
    to_file = LocalDatabase(name="third", engine="command", command=["cp", str(src), "{output}"])
    copied = await runner.dump(to_file, tmp_path / "st")
    assert copied.path.read_bytes() == b"exported by the software"
    with pytest.raises(DumpError, match="exited"):
        await runner.dump(
            LocalDatabase(name="bad", engine="postgresql", conninfo=with_db(practice_pg, "nope")),
            tmp_path / "st",
        )


def test_the_local_configuration_keeps_passwords_out_of_the_conninfo(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="password"):
        LocalDatabase(name="m", engine="postgresql", conninfo="host=db password=hunter2")
    with pytest.raises(ValidationError, match="password"):
        LocalDatabase(name="m", engine="postgresql", conninfo="postgresql://u:pw@db/x")
    with pytest.raises(ValidationError, match="same name"):
        AgentConfig(
            server_url="http://x",
            staging_dir=tmp_path,
            databases=[LocalDatabase(name="m", engine="postgresql", conninfo="dbname=m")] * 2,
        )


async def test_a_plan_naming_a_source_not_in_the_local_configuration_is_refused(
    tmp_path: Path, practice_pg: str
) -> None:
    """The server names databases; it can neither add one nor say how to dump it (§7)."""
    share = tmp_path / "PARTAGE"
    write_tree(share, {"a": b"a"})
    marker = tmp_path / "ran"
    local = [
        LocalDatabase(name="medical", engine="postgresql", conninfo=with_db(practice_pg, "x")),
        LocalDatabase(name="compta", engine="command", command=["touch", str(marker)]),
    ]
    restic = make_restic(tmp_path)
    plan = make_plan(
        tmp_path / "repo",
        share,
        [DatabaseSourceSpec(name="compta"), DatabaseSourceSpec(name="server-chosen")],
    )
    outcome = await run_once(
        plan, restic=restic, dumps=DumpRunner(), local_databases=local, staging_dir=tmp_path / "s"
    )
    assert outcome.run.status == "failed"
    assert outcome.run.error is not None
    assert "server-chosen" in outcome.run.error
    assert "not in this agent's configuration" in outcome.run.error
    assert not marker.exists()  # nothing ran, not even the configured source before it
    assert not await restic.exists()
    # The wire format has no room for a command or a connection: they are refused, not ignored.
    for spec in (
        {"name": "x", "engine": "command", "command": ["sh", "-c", "id"]},
        {"name": "x", "conninfo": "host=evil.example"},
    ):
        with pytest.raises(ValidationError):
            DatabaseSourceSpec.model_validate(spec)


async def test_run_once_reports_a_failed_dump(tmp_path: Path, practice_pg: str) -> None:
    share = tmp_path / "PARTAGE"
    write_tree(share, {"a": b"a"})
    plan = make_plan(tmp_path / "repo", share, [DatabaseSourceSpec(name="medical")])
    local = [
        LocalDatabase(name="medical", engine="postgresql", conninfo=with_db(practice_pg, "absent"))
    ]
    restic = make_restic(tmp_path)
    outcome = await run_once(
        plan,
        restic=restic,
        dumps=DumpRunner(pg_dump=PG_DUMP),
        local_databases=local,
        staging_dir=tmp_path / "st",
    )
    assert outcome.run.status == "failed"
    assert outcome.run.error is not None
    assert "medical" in outcome.run.error
    assert outcome.checks == []
    assert await restic.snapshots() == []
