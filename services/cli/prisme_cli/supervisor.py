"""Runs the platform's processes: start, readiness, restart with back-off, stop.

Each process runs in its own process group (its own session), so a Ctrl-C in the terminal
reaches only the runner, which then stops the groups in order: SIGTERM (the chassis drains
gracefully), then SIGKILL after the grace period.  Before a crashed process is restarted, or
after one has stopped, its group is killed while the leader is still an unreaped zombie, so
the group id cannot have been reused and no stray child outlives it.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

from .catalogue import ProcessSpec
from .datadir import DataDir
from .forking import Forked, fork_module
from .state import ProcessState, alive, signal_group, start_time, tree, wait_gone

#: back-off between restarts of a crashing process: 0.5 s, 1 s, 2 s … capped at 30 s
BACKOFF_FIRST = 0.5
BACKOFF_MAX = 30.0
#: a process that stayed up this long is healthy again: its next crash restarts quickly
STABLE_AFTER = 30.0
LOG_TAIL_LINES = 12


def backoff(failures: int) -> float:
    """Delay before restart number ``failures`` (1-based) of a crashing process."""
    return float(min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** max(0, failures - 1)))


def installed(module: str) -> str | None:
    """None when ``python -m module`` can run; otherwise why not (without importing it)."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError) as exc:
        return f"package {module} cannot be located: {exc}"
    if spec is None:
        return f"package {module} is not installed (run `make install`)"
    locations = list(spec.submodule_search_locations or [])
    if not locations:
        return f"{module} is a module, not a package with __main__.py"
    if not any((Path(loc) / "__main__.py").exists() for loc in locations):
        return f"package {module} has no __main__.py yet"
    return None


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 16384))
            text = handle.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


#: a started process: a fresh interpreter, or a fork of the runner (:mod:`.forking`)
Child = subprocess.Popen[bytes] | Forked


def _exited(proc: Child) -> bool:
    """True when ``proc`` has exited, without reaping it (its pid and group stay reserved)."""
    try:
        info = os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True
    return info is not None


def _reap(proc: Child) -> int:
    """Kill whatever is left of ``proc``'s group, then reap the (exited) leader."""
    signal_group(proc.pid, signal.SIGKILL)
    return proc.wait()


@dataclass
class Managed:
    spec: ProcessSpec
    state: ProcessState
    proc: Child | None = None
    launched_at: float = 0.0
    failures: int = 0
    next_start: float | None = None


class Supervisor:
    """Starts ``specs`` with their environment and keeps them running until :meth:`stop`."""

    def __init__(
        self,
        specs: list[ProcessSpec],
        ports: Mapping[str, int],
        context: Mapping[str, str],
        base_env: Mapping[str, str],
        data_dir: DataDir,
        *,
        database_urls: Mapping[str, str] | None = None,
        nats_urls: Mapping[str, str] | None = None,
        nats_provision_url: str | None = None,
        python: str = sys.executable,
        fork: bool = False,
        report: Callable[[str], None] = print,
    ) -> None:
        self.data_dir = data_dir
        self.context = dict(context)
        self.base_env = dict(base_env)
        self.database_urls = dict(database_urls or {})
        #: per-process NATS URL carrying that service's own credentials (embedded NATS)
        self.nats_urls = dict(nats_urls or {})
        #: the provisioning identity (creates streams and consumers at a service's start-up)
        self.nats_provision_url = nats_provision_url
        self.python = python
        #: fork each Python process from this one (which has preloaded their libraries)
        #: instead of starting an interpreter: see :mod:`.forking`
        self.fork = fork and python == sys.executable
        self.report = report
        self.stopping = False
        self.changed = True
        self.managed: list[Managed] = []
        for spec in specs:
            port = ports[spec.name]
            self.managed.append(
                Managed(
                    spec=spec,
                    state=ProcessState(
                        name=spec.name,
                        kind=spec.kind,
                        port=port,
                        url=f"http://127.0.0.1:{port}",
                        probe=spec.probe,
                        ready_status=spec.ready_status,
                        log=str(data_dir.log_file(spec.name)),
                    ),
                )
            )
        self._http = httpx.Client(timeout=httpx.Timeout(1.0, connect=0.3))

    # -- environment ----------------------------------------------------------------------

    def _context(self, port: int) -> dict[str, str]:
        return {**self.context, "port": str(port), "data_dir": str(self.data_dir.root)}

    def environment(self, spec: ProcessSpec, port: int) -> dict[str, str]:
        env = dict(self.base_env)
        # spec defaults (sandbox URLs…) give way to what the operator configured explicitly
        for key, value in spec.render_env(self._context(port)).items():
            env.setdefault(key, value)
        env["PRISME_HTTP_PORT"] = str(port)
        # replicas share their service's data directory (its generated keys, its objects)
        env["PRISME_DATA_DIR"] = str(self.data_dir.service_dir(spec.service))
        if spec.name in self.nats_urls:
            env["PRISME_NATS_URL"] = self.nats_urls[spec.name]
            if self.nats_provision_url:
                env["PRISME_NATS_PROVISION_URL"] = self.nats_provision_url
        database_env = spec.database_env
        if database_env and database_env not in env and spec.name in self.database_urls:
            env[database_env] = self.database_urls[spec.name]
        return env

    # -- lifecycle --------------------------------------------------------------------------

    def start_all(self, which: Callable[[ProcessSpec], bool] = lambda spec: True) -> None:
        """Start the (not yet started) processes that ``which`` selects."""
        for managed in self.managed:
            if not which(managed.spec) or managed.state.status != "pending":
                continue
            missing = installed(managed.spec.module)
            if missing:
                managed.state.status = "not installed"
                managed.state.detail = missing
                self.report(f"{managed.spec.name}: NOT STARTED — {missing}")
                continue
            self._launch(managed)
        self.changed = True

    def _launch(self, managed: Managed) -> None:
        spec, state = managed.spec, managed.state
        service_dir = self.data_dir.service_dir(spec.service)
        service_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.data_dir.log_file(spec.name)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        args = spec.render_args(self._context(state.port))
        env = self.environment(spec, state.port)
        with log_path.open("ab") as log:
            log.write(f"--- {stamp} prisme: starting {spec.name} ---\n".encode())
            log.flush()
            if self.fork:
                managed.proc = fork_module(
                    spec.module, args, env=env, cwd=service_dir, log=log_path,
                    title=f"prisme-{spec.name}",
                )  # fmt: skip
            else:
                managed.proc = subprocess.Popen(
                    [self.python, "-m", spec.module, *args],
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=service_dir,
                    start_new_session=True,
                )
        managed.launched_at = time.monotonic()
        managed.next_start = None
        state.pid = managed.proc.pid
        state.started = start_time(managed.proc.pid)
        state.status = "starting"
        state.detail = ""
        self.changed = True

    def poll(self) -> None:
        """One supervision step: notice exits, restart when due, probe readiness."""
        now = time.monotonic()
        for managed in self.managed:
            proc = managed.proc
            if proc is not None and _exited(proc):
                code = _reap(proc)
                managed.proc = None
                if not self.stopping:
                    self._crashed(managed, code, now)
            elif proc is None and managed.next_start is not None and now >= managed.next_start:
                managed.state.restarts += 1
                self._launch(managed)
            elif (
                proc is not None
                and managed.state.status == "starting"
                and self._probe(managed.state)
            ):
                managed.state.status = "ready"
                elapsed = now - managed.launched_at
                self.report(f"{managed.spec.name} ready on {managed.state.url} ({elapsed:.1f} s)")
                self.changed = True

    def _probe(self, state: ProcessState) -> bool:
        try:
            response = self._http.get(state.url + state.probe)
        except httpx.HTTPError:
            return False
        return response.status_code == state.ready_status

    def _crashed(self, managed: Managed, code: int, now: float) -> None:
        if now - managed.launched_at > STABLE_AFTER:
            managed.failures = 0
        managed.failures += 1
        delay = backoff(managed.failures)
        managed.next_start = now + delay
        state = managed.state
        state.status = "crashed"
        state.detail = f"exited with code {code}"
        state.pid = None
        state.started = None
        tail = log_tail(Path(state.log))
        indented = "\n".join("    " + line for line in tail.splitlines())
        self.report(
            f"{managed.spec.name} exited with code {code}; restarting in {delay:.1f} s "
            f"(log: {state.log})" + (f"\n{indented}" if indented else "")
        )
        self.changed = True

    def all_settled(self) -> bool:
        """Every process is ready or cannot run (not installed)."""
        return all(m.state.status in ("ready", "not installed") for m in self.managed)

    def running(self) -> list[Managed]:
        return [m for m in self.managed if m.proc is not None]

    def stop(self, grace: float = 10.0, hurry: Callable[[], bool] = lambda: False) -> None:
        """SIGTERM every process group, SIGKILL what is left after ``grace`` seconds."""
        self.stopping = True
        members: list[tuple[int, int]] = []  # every process of every group, to see them gone
        for managed in self.managed:
            managed.next_start = None
            if managed.proc is not None:
                members += [(p, st) for p in tree(managed.proc.pid) if (st := start_time(p))]
                signal_group(managed.proc.pid, signal.SIGTERM)
                managed.state.status = "stopping"
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and not hurry():
            if not any(m.proc is not None and not _exited(m.proc) for m in self.managed):
                break
            time.sleep(0.05)
        for managed in self.managed:
            if managed.proc is not None:
                if not _exited(managed.proc):
                    self.report(f"{managed.spec.name} did not stop in {grace:.0f} s: SIGKILL")
                _reap(managed.proc)
                managed.proc = None
            if managed.state.status != "not installed":
                managed.state.status = "stopped"
                managed.state.pid = None
                managed.state.started = None
        # SIGKILL is delivered asynchronously: wait until the members are really gone
        wait_gone(lambda: any(alive(p, st) for p, st in members), 5.0)
        self._http.close()
        self.changed = True
