"""The agent's use cases: enrol, run and report, the daily loop."""

from __future__ import annotations

import asyncio
import logging
import socket
from datetime import date, datetime
from pathlib import Path

import httpx
from prisme_chassis import clock
from pydantic import BaseModel

from ..domain import next_slot
from .client import AgentRefused, ControlPlane
from .config import AgentConfig
from .dumps import DumpRunner
from .protocol import CheckReport, RepositoryAccess, RunReport
from .runner import RunOutcome, restic_for, run_once

log = logging.getLogger("prisme_backup.agent")


async def enrol(
    config_path: Path, config: AgentConfig, token: str, hostname: str | None = None
) -> AgentConfig:
    """Trade the one-time enrolment token for the agent's own credentials and save them."""
    async with ControlPlane(config.server_url) as cp:
        answer = await cp.enrol(token, hostname or socket.gethostname())
    config = config.model_copy(
        update={
            "agent_id": str(answer.agent_id),
            "credential": answer.credential,
            "repository_username": answer.repository_access.username,
            "repository_password": answer.repository_access.password,
        }
    )
    config.save(config_path)
    return config


def _pending_dir(config_path: Path) -> Path:
    return config_path.with_name(config_path.name + ".pending")


def _keep(config_path: Path, outcome: RunOutcome) -> Path:
    """Write the reports to disk before sending them: a crash or an unreachable service loses
    nothing, the next run sends them again (the service ignores what it already has)."""
    directory = _pending_dir(config_path)
    directory.mkdir(mode=0o700, exist_ok=True)
    path = directory / f"{outcome.run.report_id}.json"
    body = _Pending(run=outcome.run, checks=outcome.checks)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(body.model_dump_json())
    tmp.replace(path)
    return path


class _Pending(BaseModel):
    run: RunReport
    checks: list[CheckReport]


async def flush_pending(cp: ControlPlane, config_path: Path) -> int:
    """Send the reports left by earlier runs, oldest first; returns how many were sent."""
    directory = _pending_dir(config_path)
    if not await asyncio.to_thread(directory.is_dir):
        return 0
    sent = 0
    files = await asyncio.to_thread(
        lambda: sorted(directory.glob("*.json"), key=lambda p: p.stat().st_mtime)
    )
    for path in files:
        pending = _Pending.model_validate_json(await asyncio.to_thread(path.read_text))
        await cp.report_run(pending.run)
        for check in pending.checks:
            await cp.report_check(check)
        await asyncio.to_thread(path.unlink)
        sent += 1
    return sent


async def run_and_report(config_path: Path, *, snapshot_time: datetime | None = None) -> RunOutcome:
    """Fetch the plan, run the copy, report the run and its checks to backup-svc."""
    config = AgentConfig.load(config_path)
    if not config.credential or not config.repository_username or not config.repository_password:
        raise AgentRefused("the agent is not enrolled")
    access = RepositoryAccess(
        username=config.repository_username, password=config.repository_password
    )
    async with ControlPlane(config.server_url, config.credential) as cp:
        plan = await cp.plan()
        await flush_pending(cp, config_path)
        restic = restic_for(
            plan,
            access,
            binary=config.restic,
            cache_dir=config.cache_dir,
            host=f"agent-{config.agent_id}",
        )
        last = date.fromisoformat(config.last_restore_day) if config.last_restore_day else None
        outcome = await run_once(
            plan,
            restic=restic,
            dumps=DumpRunner(pg_dump=config.pg_dump),
            local_databases=config.databases,
            staging_dir=config.staging_dir,
            snapshot_time=snapshot_time,
            last_restore_day=last,
        )
        if any(c.kind == "restore" for c in outcome.checks):
            config = config.model_copy(update={"last_restore_day": outcome.run.day.isoformat()})
            config.save(config_path)
        await asyncio.to_thread(_keep, config_path, outcome)
        await flush_pending(cp, config_path)
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
        except httpx.HTTPError as exc:
            log.warning("could not reach backup-svc: %s; retrying in a minute", exc)
            await asyncio.sleep(60)
            continue
        wake = next_slot(plan.daily_at, clock.now())
        log.info("next copy at %s", wake.isoformat())
        await asyncio.sleep(max(0.0, (wake - clock.now()).total_seconds()))
        try:
            await run_and_report(config_path)
        except AgentRefused:
            log.error("backup-svc refused this agent's credentials; stopping")
            return
        except (OSError, httpx.HTTPError) as exc:
            # The reports wait on disk and go with the next contact.
            log.warning("could not reach backup-svc: %s; reports kept for later", exc)
