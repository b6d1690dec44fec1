"""Five runs of a comparison, and a verdict on the worst one (DESIGN.md §8).

Shared by every script of ``bench/`` (imported as ``_runs``: ``python bench/x.py`` puts
``bench/`` first on the path; ``make bench`` skips files starting with ``_``)::

    runs = Runs("P4 contracts reads", [
        Target("ratio", "P4 reads / bare FastAPI", at_least=0.25),
        Target("p99_ms", "P4 p99 at 500 req/s", below=50, unit="ms"),
    ])
    for i in runs:                 # --runs times (default 5)
        figures = measure_once()   # {"ratio": 0.31, "p99_ms": 12.0, "bare_rps": ...}
        runs.record(figures)       # prints the run's figures
    return runs.finish()           # min/median/max of each figure, verdicts on the worst run

A target holds only if it holds in every run: the verdict uses the minimum of an
``at_least`` figure and the maximum of a ``below`` one. ``finish`` appends one JSON line per
target to the file named by ``PRISME_BENCH_SUMMARY`` (set by ``make bench``), and
``python bench/_runs.py FILE`` prints the closing table from those lines.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SUMMARY_ENV = "PRISME_BENCH_SUMMARY"
DEFAULT_RUNS = 5
#: exit status of a script whose targets were measured and one or more missed (a crash is 1)
MISSED = 3


@dataclass(frozen=True)
class Target:
    """A figure with a bound: ``at_least`` (ratios, throughput) or ``below`` (latency, size)."""

    key: str
    label: str
    at_least: float | None = None
    below: float | None = None
    unit: str = "×"

    def __post_init__(self) -> None:
        if (self.at_least is None) == (self.below is None):
            raise ValueError(f"{self.key}: give exactly one of at_least / below")

    def worst(self, values: list[float]) -> float:
        if any(math.isnan(v) for v in values):
            return math.nan
        return min(values) if self.at_least is not None else max(values)

    def met(self, value: float) -> bool:
        if math.isnan(value):
            return False
        if self.at_least is not None:
            return value >= self.at_least
        assert self.below is not None
        return value < self.below

    def bound(self) -> str:
        if self.at_least is not None:
            return f"≥ {_fmt(self.at_least)}{_unit(self.unit)}"
        assert self.below is not None
        return f"< {_fmt(self.below)}{_unit(self.unit)}"


def _unit(unit: str) -> str:
    return unit if unit == "×" or not unit else f" {unit}"


def _fmt(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def add_runs_argument(parser: argparse.ArgumentParser, default: int = DEFAULT_RUNS) -> None:
    parser.add_argument(
        "--runs",
        type=int,
        default=default,
        help=f"how many times the comparison runs; the verdict uses the worst (default {default})",
    )


class Runs:
    """Collects each run's figures, prints them, and judges the targets on the worst run."""

    def __init__(self, title: str, targets: list[Target], runs: int = DEFAULT_RUNS) -> None:
        if runs < 1:
            raise ValueError("at least one run")
        self.title = title
        self.targets = targets
        self.runs = runs
        self.rows: list[dict[str, float]] = []

    def __iter__(self) -> Iterator[int]:
        for i in range(self.runs):
            print(f"--- {self.title}: run {i + 1}/{self.runs}", flush=True)
            yield i

    def record(self, figures: dict[str, float]) -> None:
        self.rows.append(dict(figures))
        shown = "  ".join(f"{k}={_fmt(v)}" for k, v in figures.items())
        print(f"  run {len(self.rows)}: {shown}", flush=True)

    def finish(self) -> int:
        """Print min/median/max of every figure and each target's verdict: 0 if all are met,
        :data:`MISSED` otherwise (the script's exit status)."""
        print(f"\n{self.title}: {len(self.rows)} run(s)")
        keys: list[str] = []
        for row in self.rows:
            keys += [k for k in row if k not in keys]
        width = max([len(k) for k in keys] + [6])
        print(f"  {'figure':<{width}}  {'min':>10} {'median':>10} {'max':>10}")
        for key in keys:
            values = [row[key] for row in self.rows if key in row]
            clean = [v for v in values if not math.isnan(v)]
            lo, mid, hi = (
                (min(clean), statistics.median(clean), max(clean))
                if clean
                else (math.nan, math.nan, math.nan)
            )
            print(f"  {key:<{width}}  {_fmt(lo):>10} {_fmt(mid):>10} {_fmt(hi):>10}")
        ok = True
        lines = []
        for target in self.targets:
            values = [row.get(target.key, math.nan) for row in self.rows]
            worst = target.worst(values) if values else math.nan
            met = target.met(worst)
            ok &= met
            verdict = "OK" if met else "MISSED"
            print(
                f"  {target.label}: worst run {_fmt(worst)}{_unit(target.unit)} "
                f"(target {target.bound()}) {verdict}"
            )
            lines.append(
                {
                    "target": target.label,
                    "worst": None if math.isnan(worst) else worst,
                    "unit": target.unit,
                    "bound": target.bound(),
                    "runs": len(self.rows),
                    "verdict": verdict,
                }
            )
        summary = os.environ.get(SUMMARY_ENV)
        if summary:
            with Path(summary).open("a", encoding="utf-8") as f:
                for line in lines:
                    f.write(json.dumps(line, ensure_ascii=False) + "\n")
        return 0 if ok else MISSED


def record_failure(summary: Path, script: str, returncode: int) -> None:
    """A script that crashed counts as every one of its targets missed (``make bench``)."""
    with summary.open("a", encoding="utf-8") as f:
        line = {"target": f"{script} (exit {returncode})", "worst": None, "unit": "",
                "bound": "runs to the end", "runs": 0, "verdict": "FAILED"}  # fmt: skip
        f.write(json.dumps(line, ensure_ascii=False) + "\n")


def print_table(summary: Path) -> int:
    rows = [json.loads(line) for line in summary.read_text(encoding="utf-8").splitlines() if line]
    width = max([len(r["target"]) for r in rows] + [6])
    print(f"\n{'target':<{width}}  {'worst run':>12}  {'bound':<12}  verdict")
    for r in rows:
        worst = "n/a" if r["worst"] is None else _fmt(float(r["worst"])) + _unit(r["unit"])
        print(f"{r['target']:<{width}}  {worst:>12}  {r['bound']:<12}  {r['verdict']}")
    return 0 if all(r["verdict"] == "OK" for r in rows) else 1


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description="print make bench's closing table")
    ap.add_argument("summary", type=Path)
    ap.add_argument("--failed", nargs=2, metavar=("SCRIPT", "RC"))
    a = ap.parse_args()
    if a.failed:
        record_failure(a.summary, a.failed[0], int(a.failed[1]))
        sys.exit(0)
    sys.exit(print_table(a.summary))
