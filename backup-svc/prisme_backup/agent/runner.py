"""One daily run of the agent: dump, back up, test-restore a sample (K1, K2).

The agent only adds to its repository: applying the history (``forget --prune``), measuring
the quota and the integrity check are backup-svc's, with its own access (DESIGN.md K1)."""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from prisme_chassis import clock as platform_clock

from ..domain import business_day, restore_due
from .config import LocalDatabase
from .dumps import DumpRunner, select_sources
from .protocol import AgentPlan, CheckReport, RepositoryAccess, RunReport
from .restic import BackupSummary, Progress, Repository, Restic, rest_location
from .verify import restore_sample

log = logging.getLogger("prisme_backup.agent")


@dataclass
class RunOutcome:
    run: RunReport
    checks: list[CheckReport] = field(default_factory=list)
    summary: BackupSummary | None = None
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds spent in each step (init, dumps, backup, restore)."""


class QuotaExceededError(Exception):
    """The plan is over its quota (K1): backup-svc takes no new copy until it is solved."""


def restic_for(
    plan: AgentPlan,
    access: RepositoryAccess,
    *,
    binary: str,
    cache_dir: Path | None,
    host: str,
) -> Restic:
    """restic on the plan's repository with the plan's own (append-only) user."""
    repo = Repository(
        location=rest_location(plan.repository.location, access.username, access.password),
        password=plan.repository.password,
        secrets=(access.password,),
    )
    return Restic(repo, binary=binary, cache_dir=cache_dir, host=host)


def _fresh_dir(path: Path) -> None:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)


async def run_once(
    plan: AgentPlan,
    *,
    restic: Restic,
    dumps: DumpRunner,
    local_databases: list[LocalDatabase],
    staging_dir: Path,
    snapshot_time: datetime | None = None,
    last_restore_day: date | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    clock: Callable[[], datetime] = platform_clock.now,
) -> RunOutcome:
    """Run the whole daily copy; never raises for a failed step, the report says it.

    A plan naming a database that ``local_databases`` (the host's configuration) does not list
    is refused before anything runs.

    ``snapshot_time`` back-dates the snapshot (restic ``--time``): the day the copy counts for
    is taken from it."""
    started = clock()
    day = business_day(snapshot_time or started)
    staging = staging_dir / str(plan.plan_id)
    timings: dict[str, float] = {}
    mark = time.monotonic()

    def lap(step: str) -> None:
        nonlocal mark
        now = time.monotonic()
        timings[step] = now - mark
        mark = now

    try:
        sources = select_sources([d.name for d in plan.databases], local_databases)
        if not plan.accepting:
            raise QuotaExceededError(
                f"the repository is over its quota of {plan.quota_bytes} bytes; no new copy"
            )
        await restic.init()
        await asyncio.to_thread(_fresh_dir, staging)
        lap("init")
        for source in sources:
            result = await dumps.dump(source, staging / "databases")
            log.info("dumped %s (%d bytes)", result.name, result.size)
        lap("dumps")
        paths: list[str] = [str(staging)]
        if plan.share_path:
            share = Path(plan.share_path)
            if not await asyncio.to_thread(share.is_dir):
                raise FileNotFoundError(f"shared folder {plan.share_path} not found")
            paths.append(str(share))

        def progress(p: Progress) -> None:
            if on_progress is not None:
                on_progress(p)

        summary = await restic.backup(
            paths,
            tags=["prisme", f"plan:{plan.plan_id}"],
            time=snapshot_time,
            on_progress=progress,
        )
        lap("backup")
    except Exception as exc:  # noqa: BLE001 - every failure becomes a failed run report (K2)
        log.warning("backup run failed: %s", exc)
        return RunOutcome(
            RunReport(
                day=day,
                started_at=started,
                finished_at=clock(),
                status="failed",
                error=f"{type(exc).__name__}: {exc}"[:4000],
            ),
            timings=timings,
        )
    run = RunReport(
        day=day,
        started_at=started,
        finished_at=clock(),
        status="succeeded",
        error="; ".join(summary.errors)[:4000] or None,
        snapshot_id=summary.snapshot_id,
        snapshot_time=snapshot_time or started,
        bytes_added=summary.data_added,
        total_bytes=summary.total_bytes_processed,
        files=summary.total_files_processed,
    )
    outcome = RunOutcome(run, summary=summary, timings=timings)
    if restore_due(last_restore_day, day, plan.restore_every_days):
        try:
            restored = await restore_sample(restic, summary.snapshot_id, sample=plan.restore_sample)
            ok, detail = restored.ok, restored.detail
        except Exception as exc:  # noqa: BLE001 - a restore that cannot run is a failed check
            ok, detail = False, f"{type(exc).__name__}: {exc}"
        lap("restore")
        outcome.checks.append(
            CheckReport(
                run_id=run.report_id,
                kind="restore",
                ok=ok,
                snapshot_id=summary.snapshot_id,
                detail=detail[:4000],
                checked_at=clock(),
            )
        )
    return outcome
