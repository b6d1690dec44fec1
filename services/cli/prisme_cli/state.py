"""The state file (``<data-dir>/state.json``) and the few /proc reads the runner needs.

The runner rewrites the state file whenever a process starts, restarts or becomes ready, so
`prisme status` can show it and `prisme down` can clean up after a runner that was itself
killed.  Every pid is stored with its kernel start time: a pid that was reused by an unrelated
process since is never signalled.
"""

from __future__ import annotations

import json
import os
import signal
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def start_time(pid: int) -> int | None:
    """The kernel start time of ``pid`` (clock ticks since boot), None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # the command name (field 2) may hold spaces and parentheses: split after the last ')'
    fields = raw[raw.rindex(")") + 2 :].split()
    if fields[0] == "Z":  # a zombie is already dead for our purposes
        return None
    return int(fields[19])


def alive(pid: int, started: int | None = None) -> bool:
    """True when ``pid`` runs and, if ``started`` is given, is still the same process."""
    current = start_time(pid)
    if current is None:
        return False
    return started is None or current == started


def _ppids() -> dict[int, int]:
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            raw = Path(f"/proc/{entry}/stat").read_text()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        parents[int(entry)] = int(raw[raw.rindex(")") + 2 :].split()[1])
    return parents


def tree(pid: int) -> list[int]:
    """``pid`` and all its live descendants."""
    parents = _ppids()
    if pid not in parents:
        return []
    found = [pid]
    frontier = [pid]
    while frontier:
        current = frontier.pop()
        children = [child for child, parent in parents.items() if parent == current]
        found += children
        frontier += children
    return found


def rss_bytes(pid: int) -> int:
    """Resident memory of one process (0 when gone)."""
    try:
        pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError, IndexError):
        return 0
    return pages * PAGE_SIZE


def pss_bytes(pid: int) -> int:
    """Proportional set size: resident memory with shared pages split between their users,
    so summing it over many processes (PostgreSQL backends, Python workers) counts every page
    once. 0 when gone or unreadable."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return 0
    return 0


def signal_group(pgid: int, sig: signal.Signals) -> bool:
    """Send ``sig`` to process group ``pgid``; False when the group is gone."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    return True


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def wait_gone(check: Any, timeout: float) -> bool:
    """Poll ``check()`` (True while something is alive) until False or ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not check():
            return True
        time.sleep(0.05)
    return not check()


@dataclass
class ProcessState:
    name: str
    kind: str
    port: int
    url: str
    probe: str
    pid: int | None = None
    started: int | None = None
    status: str = "pending"
    #: what the probe answers once up (ProcessSpec.ready_status)
    ready_status: int = 200
    restarts: int = 0
    log: str = ""
    detail: str = ""


@dataclass
class InfraState:
    nats_url: str | None = None
    nats_pid: int | None = None
    nats_started: int | None = None
    postgres_dir: str | None = None
    postgres_dsn: str | None = None
    postgres_pid: int | None = None
    postgres_started: int | None = None
    external_nats: bool = False
    external_postgres: bool = False


@dataclass
class RunState:
    data_dir: str
    runner_pid: int
    runner_started: int | None
    phase: str = "starting"
    infra: InfraState = field(default_factory=InfraState)
    processes: list[ProcessState] = field(default_factory=list)

    def save(self, path: Path) -> None:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> RunState:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return cls(
            data_dir=raw["data_dir"],
            runner_pid=raw["runner_pid"],
            runner_started=raw.get("runner_started"),
            phase=raw.get("phase", "unknown"),
            infra=InfraState(**raw.get("infra", {})),
            processes=[ProcessState(**p) for p in raw.get("processes", [])],
        )

    def process(self, name: str) -> ProcessState:
        for proc in self.processes:
            if proc.name == name:
                return proc
        raise KeyError(name)
