"""P5 (DESIGN.md §8): the whole platform from cold to ready, and its idle memory.

Each run: ``prisme up --free-ports`` in a fresh data directory (every process of the
catalogue: the services, the dashboard, webhooks, the Graph/Stripe/mail sandboxes, the backup
repository server, NATS and PostgreSQL), timed until ``prisme status --json`` says every
process is ready; then ``--idle`` seconds idle and the total PSS (proportional set size:
shared pages counted once across processes) that ``prisme status`` prints; then ``prisme
down``. The first run also pays cold caches (bytecode, page cache); the verdict is the worst.

Targets: ready < 10 s, idle < 700 MB PSS, in the worst of ``--runs``.

Usage: python bench/footprint.py [--idle 10] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _runs import Runs, Target, add_runs_argument

TARGETS = [
    Target("ready_s", "P5 prisme up, cold to every process ready", below=10, unit="s"),
    Target("idle_pss_mb", "P5 whole platform idle PSS", below=700, unit="MB"),
]
PRISME = str(Path(sys.executable).with_name("prisme"))


def status(data_dir: Path) -> dict[str, object] | None:
    out = subprocess.run(
        [PRISME, "status", "--data-dir", str(data_dir), "--json"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    try:
        payload: dict[str, object] = json.loads(out.stdout)
    except json.JSONDecodeError:
        return None
    return payload


def one_run(root: Path, idle: float) -> dict[str, float]:
    data_dir = root / "data"
    log = (root / "up.log").open("wb")
    start = time.perf_counter()
    up = subprocess.Popen(
        [PRISME, "up", "--data-dir", str(data_dir), "--free-ports"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        ready_at = None
        deadline = start + 120
        while time.perf_counter() < deadline:
            payload = status(data_dir)
            if payload is not None and payload.get("ready") is True:
                ready_at = time.perf_counter() - start
                break
            if up.poll() is not None:
                raise SystemExit(f"prisme up exited {up.returncode}; see {root / 'up.log'}")
            time.sleep(0.1)
        if ready_at is None:
            raise SystemExit(f"not ready within 120 s; see {root / 'up.log'}")
        time.sleep(idle)
        payload = status(data_dir)
        assert payload is not None
        processes = payload["processes"]
        assert isinstance(processes, list)
        top = sorted(processes, key=lambda p: -float(p["pss_mb"]))
        print(
            f"  ready in {ready_at:.1f} s; {len(processes)} processes, idle PSS "
            f"{payload['total_pss_mb']} MB (RSS sum {payload['total_rss_mb']} MB); PSS of each, largest first: "
            + ", ".join(f"{p['name']} {p['pss_mb']:.0f}" for p in top)
        )
        return {
            "ready_s": ready_at,
            "idle_pss_mb": float(payload["total_pss_mb"]),  # type: ignore[arg-type]
            "idle_rss_mb": float(payload["total_rss_mb"]),  # type: ignore[arg-type]
            "processes": float(len(processes)),
        }
    finally:
        up.send_signal(signal.SIGINT)
        try:
            up.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(up.pid, signal.SIGKILL)
            up.wait()
        subprocess.run(
            [PRISME, "down", "--data-dir", str(data_dir)], capture_output=True, check=False
        )
        log.close()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--idle", type=float, default=10.0, help="seconds idle before measuring")
    add_runs_argument(ap)
    args = ap.parse_args()
    runs = Runs("P5 footprint (prisme up)", TARGETS, args.runs)
    for i in runs:
        root = Path(tempfile.mkdtemp(prefix=f"bench-footprint-{i}-"))
        try:
            runs.record(one_run(root, args.idle))
        finally:
            shutil.rmtree(root, ignore_errors=True)
    return runs.finish()


if __name__ == "__main__":
    sys.exit(main())
