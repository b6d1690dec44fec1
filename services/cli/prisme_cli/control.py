"""`prisme status` and `prisme down`: read the state file left by the runner."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TextIO

import httpx
from prisme_localinfra import PostgresServer

from .datadir import DataDir
from .state import (
    RunState,
    alive,
    group_alive,
    pss_bytes,
    rss_bytes,
    signal_group,
    start_time,
    tree,
    wait_gone,
)

RUNNER_STOP_TIMEOUT = 60.0


def _stop_pid(pid: int, started: int | None, grace: float, sig: signal.Signals) -> None:
    if not alive(pid, started):
        return
    os.kill(pid, sig)
    if not wait_gone(lambda: alive(pid, started), grace) and alive(pid, started):
        os.kill(pid, signal.SIGKILL)
        wait_gone(lambda: alive(pid, started), 5.0)


def _stop_group(pid: int, started: int | None, grace: float) -> None:
    current = start_time(pid)
    if current is not None and started is not None and current != started:
        return  # the pid now belongs to an unrelated process
    # A dead leader's group id cannot be reused while members remain, so signalling it
    # reaches only our orphans (or nobody).
    if not signal_group(pid, signal.SIGTERM):
        return
    if not wait_gone(lambda: group_alive(pid), grace):
        signal_group(pid, signal.SIGKILL)
        wait_gone(lambda: group_alive(pid), 5.0)


def cleanup(state: RunState, report: Callable[[str], None], grace: float = 10.0) -> None:
    """Stop everything ``state`` records: the runner first (it stops the rest itself), then
    whatever a killed runner left behind."""
    state_file = Path(state.data_dir) / "state.json"
    if state.runner_pid != os.getpid() and alive(state.runner_pid, state.runner_started):
        report(f"stopping runner (pid {state.runner_pid})")
        _stop_pid(state.runner_pid, state.runner_started, RUNNER_STOP_TIMEOUT, signal.SIGTERM)
        if state_file.exists():  # the runner died without cleaning up: take its last word
            state = RunState.load(state_file)
    for proc in state.processes:
        if proc.pid is not None:
            report(f"stopping {proc.name} (pid {proc.pid})")
            _stop_group(proc.pid, proc.started, grace)
    infra = state.infra
    if infra.nats_pid is not None and alive(infra.nats_pid, infra.nats_started):
        report(f"stopping nats (pid {infra.nats_pid})")
        _stop_pid(infra.nats_pid, infra.nats_started, grace, signal.SIGTERM)
    if infra.postgres_dir is not None:
        server = PostgresServer(Path(infra.postgres_dir))
        pid = server.pid
        if pid is not None and alive(pid):
            report(f"stopping postgres (pid {pid})")
            try:
                server.stop()
            except RuntimeError as exc:
                report(f"pg_ctl stop failed ({exc}): immediate shutdown")
                _stop_pid(pid, None, grace, signal.SIGQUIT)


def reapers_of(data_dir: Path, runner_pid: int) -> list[int]:
    """The reaper processes (``prisme_cli.reaper``) watching ``runner_pid`` on ``data_dir``."""
    wanted = [b"prisme_cli.reaper", str(data_dir).encode(), str(runner_pid).encode()]
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if all(w in argv for w in wanted):
            found.append(int(entry))
    return found


def down(data_dir: DataDir, out: TextIO, grace: float = 10.0) -> int:
    if not data_dir.state_file.exists():
        print(f"prisme is not running on {data_dir.root}", file=out)
        return 0
    state = RunState.load(data_dir.state_file)
    cleanup(state, report=lambda line: print(line, file=out, flush=True), grace=grace)
    # A killed runner's reaper may still be stopping the same processes: "down" returns once
    # it is gone too (it exits by itself when done; a stuck one is stopped).
    for pid in reapers_of(data_dir.root, state.runner_pid):
        _stop_pid(pid, start_time(pid), grace, signal.SIGTERM)
    data_dir.state_file.unlink(missing_ok=True)
    print("stopped", file=out)
    return 0


@dataclass
class Row:
    name: str
    pid: int | None
    port: int | None
    status: str
    restarts: int
    #: proportional resident memory of the process and its children (shared pages split)
    pss_mb: float
    #: plain resident memory (shared pages counted in every process that maps them)
    rss_mb: float
    url: str


@dataclass
class Totals:
    pss_mb: float
    rss_mb: float


def _probe(client: httpx.Client, url: str, ready_status: int = 200) -> bool:
    try:
        return client.get(url).status_code == ready_status
    except httpx.HTTPError:
        return False


def collect(state: RunState) -> tuple[list[Row], Totals]:
    """One row per process, and the memory of the whole platform (every process of every
    tree counted once, the runner included)."""
    rows: list[Row] = []
    pids: set[int] = {state.runner_pid}

    def measure(pid: int | None) -> tuple[float, float]:
        if pid is None:
            return 0.0, 0.0
        members = set(tree(pid))
        pids.update(members)
        return (sum(pss_bytes(p) for p in members) / 2**20,
                sum(rss_bytes(p) for p in members) / 2**20)  # fmt: skip

    with httpx.Client(timeout=httpx.Timeout(2.0, connect=0.5)) as client:
        for proc in state.processes:
            running = proc.pid is not None and alive(proc.pid, proc.started)
            if proc.status == "not installed":
                status = "not installed"
            elif not running:
                status = "down"
            else:
                status = (
                    "ready"
                    if _probe(client, proc.url + proc.probe, proc.ready_status)
                    else "not ready"
                )
            pid = proc.pid if running else None
            rows.append(Row(proc.name, pid, proc.port, status, proc.restarts, *measure(pid),
                            proc.url))  # fmt: skip
    infra = state.infra
    if infra.nats_pid is not None:
        nats_pid = infra.nats_pid if alive(infra.nats_pid, infra.nats_started) else None
        rows.append(Row("nats", nats_pid, None, "running" if nats_pid else "down", 0,
                        *measure(nats_pid), infra.nats_url or ""))  # fmt: skip
    if infra.postgres_dir is not None:
        pg_pid = PostgresServer(Path(infra.postgres_dir)).pid
        pg_pid = pg_pid if pg_pid is not None and alive(pg_pid) else None
        rows.append(Row("postgres", pg_pid, None, "running" if pg_pid else "down", 0,
                        *measure(pg_pid), infra.postgres_dsn or ""))  # fmt: skip
    runner = state.runner_pid
    rows.append(Row("runner", runner, None, state.phase, 0, pss_bytes(runner) / 2**20,
                    rss_bytes(runner) / 2**20, ""))  # fmt: skip
    totals = Totals(
        pss_mb=sum(pss_bytes(p) for p in pids) / 2**20,
        rss_mb=sum(rss_bytes(p) for p in pids) / 2**20,
    )
    return rows, totals


def status(data_dir: DataDir, out: TextIO, as_json: bool = False) -> int:
    """Print what runs; exit 0 when every installed process is ready, 1 otherwise, 3 when
    nothing runs."""
    if not data_dir.state_file.exists():
        print(f"prisme is not running on {data_dir.root}", file=out)
        return 3
    state = RunState.load(data_dir.state_file)
    if not alive(state.runner_pid, state.runner_started):
        print(
            f"stale state: the runner (pid {state.runner_pid}) is gone; "
            "`prisme down` cleans up what it left",
            file=out,
        )
        return 3
    rows, totals = collect(state)
    services = [r for r in rows if r.name not in ("nats", "postgres", "runner")]
    # before "running" the runner may not have registered every process yet
    ok = state.phase == "running" and all(r.status in ("ready", "not installed") for r in services)
    if as_json:
        payload = {
            "data_dir": state.data_dir,
            "phase": state.phase,
            "ready": ok,
            "total_pss_mb": round(totals.pss_mb, 1),
            "total_rss_mb": round(totals.rss_mb, 1),
            "processes": [asdict(r) for r in rows],
        }
        print(json.dumps(payload, indent=2), file=out)
        return 0 if ok else 1
    print(f"{'NAME':<16}{'PID':>8}  {'PORT':>5}  {'STATUS':<14}{'RESTARTS':>8}  {'MEM MB':>7}  URL",
          file=out)  # fmt: skip
    for r in rows:
        pid = str(r.pid) if r.pid else "-"
        port = str(r.port) if r.port else "-"
        print(f"{r.name:<16}{pid:>8}  {port:>5}  {r.status:<14}{r.restarts:>8}  "
              f"{r.pss_mb:>7.1f}  {r.url}", file=out)  # fmt: skip
    print(f"{'total':<16}{'':>8}  {'':>5}  {'':<14}{'':>8}  {totals.pss_mb:>7.1f}  "
          f"(proportional set size; plain RSS sum {totals.rss_mb:.1f} MB)", file=out)  # fmt: skip
    return 0 if ok else 1
