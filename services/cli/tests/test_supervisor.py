"""The supervisor on real child processes: readiness, crash reports, restarts, clean stop."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from prisme_cli.catalogue import ProcessSpec
from prisme_cli.datadir import DataDir
from prisme_cli.state import alive, tree
from prisme_cli.supervisor import Supervisor, backoff, installed
from prisme_localinfra import free_port


def spec(name: str, module: str) -> ProcessSpec:
    return ProcessSpec(name=name, module=module, port=0, kind="sandbox", probe="/healthz",
                       args=("--port", "{port}"))  # fmt: skip


@pytest.fixture
def make_supervisor(
    tmp_path: Path,
) -> Iterator[Callable[..., tuple[Supervisor, list[str]]]]:
    made: list[Supervisor] = []

    def make(specs: list[ProcessSpec], **env: str) -> tuple[Supervisor, list[str]]:
        data_dir = DataDir.at(tmp_path / "data")
        data_dir.prepare()
        lines: list[str] = []
        base_env = dict(os.environ, FAKE_CHILD_FILE=str(tmp_path / "children"), **env)
        sup = Supervisor(specs, {s.name: free_port() for s in specs}, {}, base_env, data_dir,
                         report=lines.append)  # fmt: skip
        made.append(sup)
        return sup, lines

    yield make
    for sup in made:
        if not sup.stopping:
            sup.stop(grace=1)


def run_until(sup: Supervisor, done: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sup.poll()
        if done():
            return
        time.sleep(0.05)
    raise AssertionError(f"not reached in {timeout}s: {[m.state for m in sup.managed]}")


def children(tmp_path: Path) -> list[int]:
    path = tmp_path / "children"
    return [int(x) for x in path.read_text().split()] if path.exists() else []


def test_backoff_doubles_up_to_a_cap() -> None:
    assert [backoff(n) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 4.0]
    assert backoff(50) == 30.0


def test_missing_package_is_reported_and_the_rest_still_runs(
    make_supervisor: Callable[..., tuple[Supervisor, list[str]]], fake_package: str
) -> None:
    assert installed("prisme_no_such_service") is not None
    assert installed(fake_package) is None
    sup, lines = make_supervisor(
        [spec("ghost", "prisme_no_such_service"), spec("ok", fake_package)]
    )
    sup.start_all()
    ghost, ok = sup.managed
    assert ghost.state.status == "not installed"
    assert ghost.proc is None
    assert any("ghost: NOT STARTED" in line and "not installed" in line for line in lines)
    run_until(sup, sup.all_settled)
    assert ok.state.status == "ready"


def test_service_env_follows_the_conventions(
    make_supervisor: Callable[..., tuple[Supervisor, list[str]]], tmp_path: Path
) -> None:
    billing = ProcessSpec(name="billing", module="prisme_billing", port=8002, kind="service",
                          probe="/readyz", database="billing",
                          env={"PRISME_BILLING_STRIPE_API_BASE": "http://127.0.0.1:1"})  # fmt: skip
    sup, _ = make_supervisor([billing], PRISME_BILLING_STRIPE_API_BASE="https://api.stripe.com")
    sup.database_urls["billing"] = "postgresql://postgres@127.0.0.1:5/billing"
    sup.nats_urls["billing"] = "nats://billing-svc:pw@127.0.0.1:4222"
    env = sup.environment(billing, 8002)
    assert env["PRISME_HTTP_PORT"] == "8002"
    assert env["PRISME_DATA_DIR"] == str(tmp_path / "data" / "services" / "billing")
    assert env["PRISME_BILLING_DATABASE_URL"] == "postgresql://postgres@127.0.0.1:5/billing"
    assert env["PRISME_NATS_URL"] == "nats://billing-svc:pw@127.0.0.1:4222"
    # an operator's explicit configuration (real Stripe) wins over the sandbox default
    assert env["PRISME_BILLING_STRIPE_API_BASE"] == "https://api.stripe.com"


def test_import_failure_is_reported_with_its_log_and_retried_with_backoff(
    make_supervisor: Callable[..., tuple[Supervisor, list[str]]], fake_package: str
) -> None:
    sup, lines = make_supervisor([spec("broken", fake_package)], FAKE_MODE="crash")
    sup.start_all()
    broken = sup.managed[0]
    run_until(sup, lambda: broken.state.restarts >= 2 and broken.proc is None)
    assert broken.state.status == "crashed"
    assert broken.state.detail == "exited with code 1"
    crash_reports = [line for line in lines if "broken exited with code 1" in line]
    assert len(crash_reports) >= 2
    assert "a deliberately broken service" in crash_reports[0]  # the log tail is shown
    assert "restarting in 0.5 s" in crash_reports[0]
    assert "restarting in 1.0 s" in crash_reports[1]
    assert Path(broken.state.log).read_text().count("prisme: starting broken") >= 2


def test_killed_process_is_restarted_and_stop_leaves_nothing_behind(
    make_supervisor: Callable[..., tuple[Supervisor, list[str]]],
    fake_package: str,
    tmp_path: Path,
    procs: Any,
) -> None:
    sup, lines = make_supervisor([spec("svc", fake_package)])
    sup.start_all()
    svc = sup.managed[0]
    run_until(sup, sup.all_settled)
    first_pid = svc.state.pid
    assert first_pid is not None
    first = procs.snapshot(tree(first_pid))
    assert len(first) == 2  # the service and its child
    os.kill(first_pid, signal.SIGKILL)
    run_until(sup, lambda: svc.state.restarts == 1 and svc.state.status == "ready")
    assert svc.state.pid != first_pid
    assert procs.survivors(first) == []  # the orphaned child of the killed service went with it
    assert any("svc exited with code -9" in line for line in lines)
    assert svc.state.pid is not None
    second = procs.snapshot(tree(svc.state.pid))
    sup.stop(grace=5)
    assert procs.survivors(second) == []
    assert svc.state.status == "stopped"
    assert all(not alive(pid) for pid in children(tmp_path))


def test_process_ignoring_sigterm_is_killed_after_the_grace_period(
    make_supervisor: Callable[..., tuple[Supervisor, list[str]]], fake_package: str, procs: Any
) -> None:
    sup, lines = make_supervisor([spec("stubborn", fake_package)], FAKE_MODE="stubborn")
    sup.start_all()
    run_until(sup, sup.all_settled)
    pid = sup.managed[0].state.pid
    assert pid is not None
    group = procs.snapshot(tree(pid))
    began = time.monotonic()
    sup.stop(grace=1.0)
    assert 0.9 < time.monotonic() - began < 5
    assert procs.survivors(group) == []
    assert any("stubborn did not stop in 1 s: SIGKILL" in line for line in lines)
