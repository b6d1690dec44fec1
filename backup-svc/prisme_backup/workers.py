"""Long-running loops: the watch (K2), the purge (K3), the exports (K3)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from prisme_chassis.app import Runtime
from prisme_chassis.db import transaction

from .service import exports, watch
from .service.context import Backups
from .settings import BackupSettings

log = logging.getLogger(__name__)


def _interval(rt: Runtime) -> float:
    settings = rt.settings
    return settings.watch_interval if isinstance(settings, BackupSettings) else 60.0


async def watch_loop(rt: Runtime) -> None:
    """Every interval: raise missed copies, destroy repositories whose history ran out."""
    ctx: Backups = rt.state["backups"]
    while True:
        now = datetime.now(UTC)
        async with transaction(rt.pool) as conn:
            await watch.find_missed(conn, now)
        async with transaction(rt.pool) as conn:
            await watch.purge_due(conn, ctx, now)
        await asyncio.sleep(_interval(rt))


async def export_loop(rt: Runtime) -> None:
    ctx: Backups = rt.state["backups"]
    while True:
        async with transaction(rt.pool) as conn:
            done = await exports.run_next_export(conn, ctx)
        if done is None:
            await asyncio.sleep(min(_interval(rt), 2.0))
