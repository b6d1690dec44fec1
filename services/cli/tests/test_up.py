"""`prisme up` as a user runs it: a real runner process with real NATS, PostgreSQL, the
sandboxes and whichever services are installed; stopped by SIGTERM or cleaned up by
`prisme down` after the runner itself was killed.  Leftovers are checked by pid."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import asyncpg
import httpx
import pytest
from prisme_chassis.auth import Authenticator
from prisme_chassis.clock import business_day as reunion_day
from prisme_cli.control import reapers_of
from prisme_cli.state import RunState, alive, tree
from prisme_localinfra import PostgresServer
from prisme_localinfra.ports import port_open
from prisme_testing.polling import eventually_blocking as wait_for

SERVICES = ("contracts", "billing", "licence", "video", "backup", "webhooks")
SANDBOXES = ("graph-sandbox", "stripe-sandbox", "mail-sandbox")
#: the backup repository server (rclone): real infrastructure, not a stand-in
STORES = ("backup-repository",)


def clean_env() -> dict[str, str]:
    """The caller's environment without PRISME_* (no external NATS/PostgreSQL by accident)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PRISME_")}


def start_runner(data_dir: Path, *extra: str, ready_timeout: int = 90) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "prisme_cli", "up", "--data-dir", str(data_dir), "--free-ports",
         "--ready-timeout", str(ready_timeout), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=clean_env(),
    )  # fmt: skip


def running_state(data_dir: Path, runner: subprocess.Popen[str]) -> RunState:
    def check() -> RunState | None:
        assert runner.poll() is None, runner.stdout.read() if runner.stdout else ""
        path = data_dir / "state.json"
        if not path.exists():
            return None
        state = RunState.load(path)
        return state if state.phase == "running" else None

    result: RunState = wait_for(check, 120, "the platform to be running")
    return result


def prisme(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "prisme_cli", *args], capture_output=True,
                          text=True, timeout=120, env=clean_env())  # fmt: skip


def platform_processes(state: RunState) -> list[tuple[int, int]]:
    """Every process of the platform (runner tree and the daemonised PostgreSQL tree)."""
    pids = set(tree(state.runner_pid))
    if state.infra.postgres_pid:
        pids |= set(tree(state.infra.postgres_pid))
    found = []
    for pid in pids:
        path = Path(f"/proc/{pid}/stat")
        if path.exists():
            raw = path.read_text()
            found.append((pid, int(raw[raw.rindex(")") + 2 :].split()[19])))
    return found


def survivors(processes: list[tuple[int, int]]) -> list[int]:
    return [pid for pid, started in processes if alive(pid, started)]


async def databases(dsn: str) -> set[str]:
    conn = await asyncpg.connect(dsn)
    try:
        return {r["datname"] for r in await conn.fetch("SELECT datname FROM pg_database")}
    finally:
        await conn.close()


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """A data dir outside pytest's tmp tree: pytest resets that tree to mode 0700 whenever a
    session starts, which would lock out PostgreSQL's own system user (when run as root)."""
    path = Path(tempfile.mkdtemp(prefix="prisme-cli-"))
    yield path / "data"
    shutil.rmtree(path, ignore_errors=True)


def test_up_runs_supervises_and_stops_on_sigterm(data_dir: Path) -> None:
    runner = start_runner(data_dir)
    try:
        state = running_state(data_dir, runner)
        names = [p.name for p in state.processes]
        assert names == ["dashboard", *SANDBOXES, *STORES, *SERVICES]  # the dashboard's first

        # infrastructure: real NATS and PostgreSQL with one database per service
        assert state.infra.nats_pid is not None
        assert alive(state.infra.nats_pid, state.infra.nats_started)
        assert state.infra.postgres_pid is not None
        assert alive(state.infra.postgres_pid)
        assert state.infra.postgres_dsn is not None
        assert {"dashboard", *SERVICES} <= asyncio.run(databases(state.infra.postgres_dsn))

        # the sandboxes answer; each service is either ready or reported as not installed
        for proc in state.processes:
            if proc.name in SANDBOXES:
                assert proc.status == "ready", proc
                assert httpx.get(proc.url + "/healthz").status_code == 200
            elif proc.name in STORES:
                # K1/R8: up, and nothing without the credentials of a plan's user
                assert proc.status == "ready", (proc, Path(proc.log).read_text()[-3000:])
                assert httpx.get(proc.url + "/").status_code == 401
                users = data_dir / "services" / "backup" / "repository-users.htpasswd"
                assert users.exists()
            elif proc.status == "not installed":
                assert proc.detail, proc
            else:
                assert proc.status == "ready", (proc, Path(proc.log).read_text()[-3000:])
                assert httpx.get(proc.url + "/readyz").status_code == 200

        # the admin token is signed by the data dir's key
        public = (data_dir / "keys" / "platform.pub").read_text()
        token = (data_dir / "admin-token").read_text().strip()
        assert Authenticator(public).verify(token).scopes == frozenset({"admin"})

        # the first run created the dashboard's first admin; operators are managed from here
        dashboard = state.process("dashboard")
        assert dashboard.status == "ready", Path(dashboard.log).read_text()[-3000:]
        listed = prisme("operators", "--data-dir", str(data_dir), "list", "--json")
        assert listed.returncode == 0, listed.stderr
        assert [o["email"] for o in json.loads(listed.stdout)] == ["admin@prisme.local"]
        added = prisme(
            "operators",
            "--data-dir",
            str(data_dir),
            "add",
            "tech@prisme.re",
            "--role",
            "technician",
        )
        assert added.returncode == 0, added.stderr
        assert "une seule fois" in added.stdout

        # status, as text and JSON
        shown = prisme("status", "--data-dir", str(data_dir), "--json")
        report = json.loads(shown.stdout)
        assert shown.returncode == 0, shown.stdout
        assert report["ready"] is True
        rows = {row["name"]: row for row in report["processes"]}
        assert rows["graph-sandbox"]["status"] == "ready"
        assert rows["nats"]["status"] == "running"
        assert rows["postgres"]["status"] == "running"
        assert report["total_pss_mb"] > rows["nats"]["pss_mb"] + rows["postgres"]["pss_mb"] > 0
        assert report["total_rss_mb"] >= report["total_pss_mb"]
        text = prisme("status", "--data-dir", str(data_dir)).stdout
        assert "graph-sandbox" in text
        assert "total" in text

        # a second runner on the same data dir is refused
        again = prisme("up", "--data-dir", str(data_dir), "--free-ports")
        assert again.returncode == 2
        assert "already running" in again.stdout

        # a crashed process is restarted
        graph = state.process("graph-sandbox")
        assert graph.pid is not None
        os.kill(graph.pid, signal.SIGKILL)

        def restarted() -> bool:
            now = RunState.load(data_dir / "state.json").process("graph-sandbox")
            return now.restarts == 1 and now.status == "ready" and now.pid != graph.pid

        wait_for(restarted, 30, "graph-sandbox to be restarted")
        state = RunState.load(data_dir / "state.json")
        everything = platform_processes(state)
        assert len(everything) >= 8  # runner, nats, postgres and its workers, the sandboxes

        runner.send_signal(signal.SIGTERM)
        output, _ = runner.communicate(timeout=60)
        assert runner.returncode == 0, output
    finally:
        if runner.poll() is None:
            runner.kill()
            prisme("down", "--data-dir", str(data_dir))
    assert survivors(everything) == []
    assert "premier administrateur" in output
    assert "admin@prisme.local" in output
    assert output.count("mot de passe :") == 1
    assert "graph-sandbox exited with code -9" in output
    assert "[prisme] stopped" in output
    assert not (data_dir / "state.json").exists()
    assert prisme("status", "--data-dir", str(data_dir)).returncode == 3


def test_down_cleans_up_after_the_runner_was_killed(data_dir: Path) -> None:
    # contracts brings PostgreSQL in, whether its package is installed or not
    runner = start_runner(data_dir, "--only", ",".join([*SANDBOXES, "contracts"]), ready_timeout=20)
    try:
        state = running_state(data_dir, runner)
        assert [p.status for p in state.processes][:2] == ["ready", "ready"]
        everything = platform_processes(state)
        # `prisme down` is for what the reaper could not stop (the runner and its reaper both
        # killed, e.g. `kill -9` of every prisme process): without this the reaper races the
        # test and usually stops everything first
        reapers = reapers_of(data_dir, runner.pid)
        assert reapers
        for pid in reapers:
            os.kill(pid, signal.SIGKILL)
        runner.kill()  # the runner dies without stopping anything
        runner.wait(10)
        assert survivors(everything)  # its children live on…
        stale = prisme("status", "--data-dir", str(data_dir))
        assert stale.returncode == 3
        assert "stale state" in stale.stdout
        done = prisme("down", "--data-dir", str(data_dir))
        assert done.returncode == 0, done.stdout + done.stderr
        assert "stopping graph-sandbox" in done.stdout
        assert "stopping postgres" in done.stdout
    finally:
        if runner.poll() is None:
            runner.kill()
        runner.communicate()
    assert survivors(everything) == []  # …until `prisme down`
    assert not (data_dir / "state.json").exists()
    # the data dir is reusable: a new run starts on the same keys and cluster
    public = (data_dir / "keys" / "platform.pub").read_text()
    again = start_runner(data_dir, "--only", "graph-sandbox", ready_timeout=20)
    try:
        running_state(data_dir, again)
        assert (data_dir / "keys" / "platform.pub").read_text() == public
        again.send_signal(signal.SIGINT)
        again.communicate(timeout=60)
        assert again.returncode == 0
    finally:
        if again.poll() is None:
            again.kill()
            prisme("down", "--data-dir", str(data_dir))


def test_external_nats_and_postgres_are_used_as_configured(
    data_dir: Path, nats_url: str, pg: PostgresServer
) -> None:
    dsn = pg.create_database(f"cli_{uuid.uuid4().hex[:12]}")
    env = {**clean_env(), "PRISME_NATS_URL": nats_url, "PRISME_CONTRACTS_DATABASE_URL": dsn}
    runner = subprocess.Popen(
        [sys.executable, "-m", "prisme_cli", "up", "--data-dir", str(data_dir), "--free-ports",
         "--only", "contracts", "--ready-timeout", "60"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )  # fmt: skip
    try:
        state = running_state(data_dir, runner)
        assert state.infra.external_nats
        assert state.infra.external_postgres
        assert state.infra.nats_pid is None
        assert state.infra.postgres_dir is None
        assert not (data_dir / "postgres").exists()
        contracts = state.process("contracts")
        assert contracts.status == "ready", Path(contracts.log).read_text()[-3000:]
        # its migrations ran in the database we gave it
        assert asyncio.run(migrations_applied(dsn)) > 0
        runner.send_signal(signal.SIGTERM)
        output, _ = runner.communicate(timeout=60)
        assert runner.returncode == 0, output
        assert "using external NATS" in output
        assert "using external PostgreSQL" in output
    finally:
        if runner.poll() is None:
            runner.kill()
            prisme("down", "--data-dir", str(data_dir))


async def migrations_applied(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        count: int = await conn.fetchval("SELECT count(*) FROM schema_migrations")
        return count
    finally:
        await conn.close()


def reunion_today() -> date:
    return reunion_day(datetime.now(UTC))


def test_clock_travel_closes_the_year_on_the_running_platform_and_reset_returns(
    data_dir: Path,
) -> None:
    """DESIGN §4: `prisme clock travel` moves every running service at once; the year-end that
    today answers 409 (year not over) succeeds after the travel; `prisme clock reset` returns."""
    runner = start_runner(data_dir, "--only", "contracts,billing,stripe-sandbox")
    try:
        state = running_state(data_dir, runner)
        token = (data_dir / "admin-token").read_text().strip()
        headers = {"Authorization": f"Bearer {token}"}
        urls = {p.name: p.url for p in state.processes}
        contracts, billing = urls["contracts"], urls["billing"]
        year = reunion_today().year
        before = httpx.post(f"{contracts}/v1/year-end", json={"year": year}, headers=headers)
        assert before.status_code == 409, before.text

        travelled = prisme("clock", "travel", f"{year + 1}-01-01T00:00:05+04:00",
                           "--data-dir", str(data_dir))  # fmt: skip
        assert travelled.returncode == 0, travelled.stderr

        def business_day(url: str) -> str:
            body = httpx.get(f"{url}/v1/clock", headers=headers).json()
            return str(body["business_day"])

        for url in (contracts, billing):  # every service, without a restart
            wait_for(lambda u=url: business_day(u) == f"{year + 1}-01-01", 30, f"{url} to travel")
        after = httpx.post(
            f"{contracts}/v1/year-end", json={"year": year}, headers=headers, timeout=60
        )
        assert after.status_code == 200, after.text

        assert prisme("clock", "reset", "--data-dir", str(data_dir)).returncode == 0
        for url in (contracts, billing):
            wait_for(
                lambda u=url: (
                    httpx.get(f"{u}/v1/clock", headers=headers).json()["offset_seconds"] == 0
                ),
                30,
                f"{url} back to the system time",
            )
        assert business_day(contracts) == reunion_today().isoformat()
    finally:
        runner.send_signal(signal.SIGTERM)
        runner.wait(60)


def test_clock_travel_is_refused_in_production(data_dir: Path) -> None:
    env = {**clean_env(), "PRISME_ENV": "production"}
    for args in (("travel", "2027-01-01T00:00:05+04:00"), ("reset",)):
        done = subprocess.run(
            [sys.executable, "-m", "prisme_cli", "clock", *args, "--data-dir", str(data_dir)],
            capture_output=True, text=True, timeout=60, env=env,
        )  # fmt: skip
        assert done.returncode == 2
        assert "production" in done.stderr


def test_a_runner_killed_with_sigkill_leaves_no_orphan(data_dir: Path) -> None:
    """DESIGN §5 / #10 item 11: SIGKILL the runner; services, NATS and PostgreSQL stop too and
    their ports are free again."""
    runner = start_runner(data_dir, "--only", "contracts,graph-sandbox")
    state = running_state(data_dir, runner)
    processes = platform_processes(state)
    assert state.infra.postgres_pid
    assert state.infra.nats_pid
    ports = [p.port for p in state.processes]
    assert state.infra.nats_url is not None
    ports.append(int(state.infra.nats_url.rsplit(":", 1)[1]))
    runner.kill()
    runner.wait(30)
    postgres = state.infra.postgres_pid
    wait_for(lambda: not survivors(processes) and not alive(postgres), 90, "no survivor")
    wait_for(lambda: not any(port_open(port) for port in ports), 30, "the ports to be free")


def test_replicas_run_on_their_own_ports_and_share_the_database(data_dir: Path) -> None:
    """`prisme up --replicas licence=2`: two licence-svc processes, distinct ports, one
    database and one data directory; both ready and serving the same jobs."""
    runner = start_runner(data_dir, "--only", "graph-sandbox,licence", "--replicas", "licence=2")
    try:
        state = running_state(data_dir, runner)
        first, second = state.process("licence"), state.process("licence-2")
        for p in (first, second):
            assert p.status == "ready", Path(p.log).read_text()[-3000:]
        assert first.port != second.port
        assert state.infra.postgres_dsn is not None
        dbs = asyncio.run(databases(state.infra.postgres_dsn))
        assert "licence" in dbs
        assert not {"licence-2", "licence_2"} & dbs
        assert not (data_dir / "services" / "licence-2").exists()  # one data dir, one key
        token = prisme("token", "--data-dir", str(data_dir), "--scopes", "admin").stdout.strip()
        answers = [
            httpx.get(f"{p.url}/v1/jobs", headers={"Authorization": f"Bearer {token}"}, timeout=10)
            for p in (first, second)
        ]
        assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
        runner.send_signal(signal.SIGTERM)
        output, _ = runner.communicate(timeout=60)
        assert runner.returncode == 0, output
    finally:
        if runner.poll() is None:
            runner.kill()
            prisme("down", "--data-dir", str(data_dir))


def test_replicas_are_refused_for_sandboxes_and_unknown_names(data_dir: Path) -> None:
    for replicas, message in (
        ("graph-sandbox=2", "only services run as replicas"),
        ("licence=2", "not run"),
        ("licence=x", "name=count"),
        ("licence=9", "1 to 8"),
    ):
        done = prisme(
            "up", "--data-dir", str(data_dir), "--free-ports", "--only", "graph-sandbox",
            "--replicas", replicas,
        )  # fmt: skip
        assert done.returncode == 2, done.stdout + done.stderr
        assert message in done.stdout + done.stderr
