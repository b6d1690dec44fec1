"""Fixtures of video-svc tests: small real recordings encoded with PyAV (no binary fixtures)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

import asyncpg
import av
import httpx
import pytest
from fastapi import FastAPI
from prisme_chassis.clock import CLOCK
from prisme_events import ContractActivated, ContractEnded
from prisme_testing import factories
from prisme_testing.plugin import publish_event, start_service
from prisme_video.app import build_app
from prisme_video.context import VideoContext, VideoRuntime
from prisme_video.settings import VideoSettings


def _plane_bytes(plane: av.video.plane.VideoPlane, row: bytes, height: int) -> bytes:
    padded = row + bytes(plane.line_size - len(row))
    return padded * height


def make_video(
    seconds: float = 2.0,
    *,
    fps: int = 10,
    width: int = 160,
    height: int = 120,
    codec: str = "libx264",
    fmt: str = "mp4",
    noise: bool = False,
) -> bytes:
    """Encode ``seconds`` of synthetic frames (moving gradient, or noise) into a container."""
    buffer = io.BytesIO()
    rng = random.Random(42)
    with av.open(buffer, mode="w", format=fmt) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.time_base = Fraction(1, fps)
        for i in range(int(seconds * fps)):
            frame = av.VideoFrame(width, height, "yuv420p")
            y, u, v = frame.planes
            if noise:
                y.update(rng.randbytes(y.buffer_size))
            else:
                y.update(_plane_bytes(y, bytes((x + i * 7) % 256 for x in range(width)), height))
            u.update(_plane_bytes(u, bytes([(i * 13) % 256]) * (width // 2), height // 2))
            v.update(_plane_bytes(v, bytes([128]) * (width // 2), height // 2))
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def video() -> Callable[..., bytes]:
    """A factory of small real videos: ``video(seconds=2, codec="libx264", fmt="mp4", ...)``."""
    return make_video


@pytest.fixture(scope="session")
def small_mp4() -> bytes:
    return make_video(2.0)


# --- the running service -------------------------------------------------------------------


class Svc:
    """A running video-svc in this event loop, with its database and bus."""

    def __init__(
        self, client: httpx.AsyncClient, app: FastAPI, settings: VideoSettings, nats_url: str
    ) -> None:
        self.client = client
        self.app = app
        self.settings = settings
        self.nats_url = nats_url
        self.dsn = settings.database_url

    @property
    def runtime(self) -> VideoRuntime:
        rt: VideoRuntime = self.app.state.runtime
        return rt

    @property
    def ctx(self) -> VideoContext:
        return self.runtime.context

    def shift_clock(self, delta: timedelta) -> None:
        """Move the service's clock (link expiry, retention) without waiting."""
        CLOCK.set_offset(delta)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        conn = await asyncpg.connect(self.dsn)
        try:
            return await conn.fetchval(sql, *args)
        finally:
            await conn.close()

    async def wait_contract(self, contract_id: uuid.UUID, status: str, timeout: float = 10) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            got = await self.fetchval(
                "SELECT status FROM contracts WHERE contract_id = $1", contract_id
            )
            if got == status:
                return
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"contract {contract_id} not {status} (got {got})")
            await asyncio.sleep(0.05)

    async def wait_until(self, sql: str, *args: Any, timeout: float = 10) -> Any:
        """Poll ``sql`` until it returns a truthy value (effects of the bus are asynchronous)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not (value := await self.fetchval(sql, *args)):
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"still false after {timeout}s: {sql}")
            await asyncio.sleep(0.05)
        return value

    async def wait_processed(self, event: Any) -> None:
        """Until video-svc's consumer committed ``event`` (its inbox row)."""
        await self.wait_until("SELECT true FROM inbox WHERE event_id = $1", event.event_id)

    async def activate(
        self, client_id: uuid.UUID | None = None, ends_in: timedelta = timedelta(days=200)
    ) -> ContractActivated:
        event = contract_activated(client_id or uuid.uuid4(), ends_in=ends_in)
        await publish_event(self.nats_url, event)
        await self.wait_contract(event.contract_id, "active")
        return event

    async def end(self, activated: ContractActivated, version: int = 2) -> ContractEnded:
        event = contract_ended(activated, version=version)
        await publish_event(self.nats_url, event)
        return event

    make_activated = staticmethod(
        lambda client_id, ends_in=timedelta(days=200): contract_activated(
            client_id, ends_in=ends_in
        )
    )
    make_ended = staticmethod(
        lambda activated, version=2: contract_ended(activated, version=version)
    )

    async def upload(
        self, contract: ContractActivated, data: bytes, title: str = "Intervention poste 3"
    ) -> httpx.Response:
        return await self.upload_for(contract.client_id, contract.contract_id, data, title)

    async def upload_for(
        self, client_id: uuid.UUID, contract_id: uuid.UUID, data: bytes, title: str = "Intervention"
    ) -> httpx.Response:
        return await self.client.post(
            "/v1/videos",
            data={"client_id": str(client_id), "contract_id": str(contract_id), "title": title},
            files={"file": ("enregistrement.mp4", data, "video/mp4")},
        )

    async def share(self, video_id: str) -> dict[str, Any]:
        r = await self.client.post(f"/v1/videos/{video_id}/links")
        assert r.status_code == 201, r.text
        return dict(r.json())

    def viewer(self) -> httpx.AsyncClient:
        """A browser-like client without the operator's bearer token."""
        return httpx.AsyncClient(base_url=str(self.client.base_url), timeout=30)


def contract_activated(client_id: uuid.UUID, *, ends_in: timedelta) -> ContractActivated:
    now = datetime.now(UTC)
    return factories.contract_activated(
        client=factories.client_snapshot(
            client_id, name="Cabinet du Dr Payet", siren="123456789", city="Saint-Denis",
            postal_code="97400", manager="Dr Payet", email="payet@example.re",
        ),
        version=1,
        offer="sav_sauvegarde",
        includes=["video_recordings"],
        start=now.date(),
        ends_at=now + ends_in,
        postes=3,
        peripherals=1,
    )  # fmt: skip


def contract_ended(activated: ContractActivated, *, version: int = 2) -> ContractEnded:
    now = datetime.now(UTC)
    return factories.contract_ended(
        activated, version=version, reason="cessation", effective=now.date(), ended_at=now
    )


ServiceFactory = Callable[..., contextlib.AbstractAsyncContextManager[Svc]]


@pytest.fixture
async def run_video(
    new_database: Callable[[], Awaitable[str]],
    base_settings: dict[str, Any],
    make_token: Callable[..., str],
) -> ServiceFactory:
    """Factory: ``async with run_video(**settings) as svc``."""

    @contextlib.asynccontextmanager
    async def run(**overrides: Any) -> AsyncIterator[Svc]:
        values: dict[str, Any] = {
            **base_settings,
            "database_url": await new_database(),
            "chunk_size": 64 * 1024,
            "throttle_base_delay_seconds": 0,
            "argon2_time_cost": 1,
            "argon2_memory_kib": 8 * 1024,
            "retention_interval_seconds": 3600,
            **overrides,
        }
        settings = VideoSettings(**values)
        app = build_app(settings)
        headers = {"Authorization": f"Bearer {make_token(sub='op-alice')}"}
        async with start_service(app, headers=headers) as client:
            yield Svc(client, app, settings, base_settings["nats_url"])

    return run


@pytest.fixture
async def svc(run_video: ServiceFactory) -> AsyncIterator[Svc]:
    async with run_video() as s:
        yield s
