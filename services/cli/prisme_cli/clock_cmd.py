"""`prisme clock travel INSTANT` / `prisme clock reset` (DESIGN §4): move every running
service's clock at once, in development and test only.

The offset goes into the platform's ``PRISME_CLOCK`` key-value bucket, which the chassis of
every service watches (effective within a second, no restart). Refused when ``PRISME_ENV`` is
``production``; a production service would ignore the bucket anyway.
"""

from __future__ import annotations

import asyncio
import json
import os
from datetime import datetime
from typing import TextIO

import nats
from prisme_chassis import clock
from prisme_localinfra.nats_auth import url_with_credentials

from .datadir import DataDir
from .state import RunState


class ClockRefusedError(RuntimeError):
    """Travel is not possible here (production, or no platform to reach)."""


def nats_url(data_dir: DataDir) -> str:
    """The NATS of the running platform, with the runner's admin credentials."""
    external = os.environ.get("PRISME_NATS_URL")
    if external:
        return external
    if not data_dir.state_file.exists():
        raise ClockRefusedError(f"no platform runs on {data_dir.root} (start `prisme up` first)")
    state = RunState.load(data_dir.state_file)
    url = state.infra.nats_url
    if not url:
        raise ClockRefusedError("the running platform has no NATS yet")
    passwords_file = data_dir.secrets / "nats-passwords.json"
    if passwords_file.exists():
        passwords = json.loads(passwords_file.read_text(encoding="utf-8"))
        if "admin" in passwords:
            url = url_with_credentials(url, "admin", passwords["admin"])
    return url


def refuse_production() -> None:
    if os.environ.get("PRISME_ENV", "development") == "production":
        raise ClockRefusedError("the clock cannot travel in production (PRISME_ENV=production)")


def parse_instant(text: str) -> datetime:
    instant = datetime.fromisoformat(text)
    if instant.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone: write e.g. 2027-01-01T00:00:05+04:00")
    return instant


async def _run(url: str, instant: datetime | None) -> None:
    nc = await nats.connect(url, connect_timeout=5, max_reconnect_attempts=1)
    try:
        js = nc.jetstream()
        if instant is None:
            await clock.reset(js)
        else:
            await clock.travel(js, instant)
    finally:
        await nc.close()


def travel(data_dir: DataDir, instant_text: str, out: TextIO) -> None:
    refuse_production()
    instant = parse_instant(instant_text)
    asyncio.run(_run(nats_url(data_dir), instant))
    print(f"platform clock travelled to {instant.isoformat()}", file=out)


def reset(data_dir: DataDir, out: TextIO) -> None:
    refuse_production()
    asyncio.run(_run(nats_url(data_dir), None))
    print("platform clock back to the system time", file=out)
