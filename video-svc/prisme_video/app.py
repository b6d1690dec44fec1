"""The video-svc service: chassis spec, app factory, entry point."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from prisme_chassis.app import Runtime, ServiceSpec, create_app, run

from . import api, handlers, redaction, retention, viewer
from .context import build_context
from .settings import VideoSettings


async def _startup(rt: Runtime) -> None:
    assert isinstance(rt.settings, VideoSettings)
    redaction.install()
    rt.state["video"] = build_context(rt.settings)


spec = ServiceSpec(
    name="video-svc",
    migrations=Path(__file__).parent / "migrations",
    routers=[api.router],
    public_routers=[viewer.router],
    subscriptions=handlers.subscriptions,
    workers=[retention.run],
    on_startup=_startup,
)


def build_app(settings: VideoSettings | None = None) -> FastAPI:
    return create_app(spec, settings or VideoSettings())


def main() -> None:
    run(build_app)
