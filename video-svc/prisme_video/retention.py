"""Retention worker (V1): recordings are deleted ``retention_days`` after their contract ends."""

from __future__ import annotations

import asyncio
import logging

from prisme_chassis.db import transaction

from . import recordings
from .context import VideoRuntime

log = logging.getLogger(__name__)


async def purge_once(rt: VideoRuntime) -> int:
    ctx = rt.context
    total = 0
    while True:
        async with transaction(rt.pool) as conn:
            purged = await recordings.purge_expired(conn, ctx)
        total += len(purged)
        for video_id in purged:
            log.info("recording purged after retention", extra={"video_id": str(video_id)})
        if not purged:
            return total


async def sweep_once(rt: VideoRuntime) -> int:
    """Objects left by uploads that never got their row (killed between store and commit)."""
    ctx = rt.context
    async with rt.pool.acquire() as conn:
        deleted = await recordings.sweep_orphans(conn, ctx)
    if deleted:
        log.info("orphan objects deleted", extra={"count": deleted})
    return deleted


async def run(rt: VideoRuntime) -> None:
    ctx = rt.context
    while True:
        await purge_once(rt)
        await sweep_once(rt)
        await asyncio.sleep(ctx.settings.retention_interval_seconds)
