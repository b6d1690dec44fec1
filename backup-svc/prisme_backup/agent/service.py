"""The agent's use cases: enrol, run and report, the daily loop."""

from __future__ import annotations

import asyncio
import logging
import socket
from datetime import UTC, date, datetime
from pathlib import Path

from ..domain import next_slot
from .client import AgentRefused, ControlPlane
from .config import AgentConfig
from .dumps import DumpRunner
from .runner import RunOutcome, restic_for, run_once

log = logging.getLogger("prisme_backup.agent")


async def enrol(
    config_path: Path, config: AgentConfig, token: str, hostname: str | None = None
) -> AgentConfig:
    """Trade the one-time enrolment token for the agent's own credentials and save them."""
    async with ControlPlane(config.server_url) as cp:
        answer = await cp.enrol(token, hostname or socket.gethostname())
    config = config.model_copy(
        update={"agent_id": str(answer.agent_id), "credential": answer.credential}
    )
    config.save(config_path)
    return config


async def run_and_report(config_path: Path, *, snapshot_time: datetime | None = None) -> RunOutcome:
    """Fetch the plan, run the copy, report the run and its checks to backup-svc."""
    config = AgentConfig.load(config_path)
    if not config.credential:
        raise AgentRefused("the agent is not enrolled")
    async with ControlPlane(config.server_url, config.credential) as cp:
        plan = await cp.plan()
        restic = restic_for(
            plan, binary=config.restic, cache_dir=config.cache_dir, host=f"agent-{config.agent_id}"
        )
        last = date.fromisoformat(config.last_restore_day) if config.last_restore_day else None
        outcome = await run_once(
            plan,
            restic=restic,
            dumps=DumpRunner(pg_dump=config.pg_dump, passwords=config.db_passwords),
            staging_dir=config.staging_dir,
            snapshot_time=snapshot_time,
            last_restore_day=last,
        )
        run_id = await cp.report_run(outcome.run)
        for check in outcome.checks:
            await cp.report_check(check.model_copy(update={"run_id": run_id}))
            if check.kind == "restore":
                config = config.model_copy(update={"last_restore_day": outcome.run.day.isoformat()})
                config.save(config_path)
    return outcome


async def daemon(config_path: Path) -> None:
    """Wait for each daily slot (Réunion time) and run; stop once the service refuses us (K3)."""
    while True:
        config = AgentConfig.load(config_path)
        try:
            async with ControlPlane(config.server_url, config.credential) as cp:
                plan = await cp.plan()
        except AgentRefused:
            log.error("backup-svc refused this agent's credentials; stopping")
            return
        wake = next_slot(plan.daily_at, datetime.now(UTC))
        log.info("next copy at %s", wake.isoformat())
        await asyncio.sleep(max(0.0, (wake - datetime.now(UTC)).total_seconds()))
        try:
            await run_and_report(config_path)
        except AgentRefused:
            log.error("backup-svc refused this agent's credentials; stopping")
            return
        except OSError as exc:
            log.warning("could not reach backup-svc: %s; retrying at the next slot", exc)
