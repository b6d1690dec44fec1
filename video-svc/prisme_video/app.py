"""The video-svc service: chassis spec, app factory, entry point."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from prisme_chassis.app import Resources, ServiceSpec, create_app, run

from . import api, errors, handlers, redaction, retention
from .context import VideoContext, build_context
from .settings import VideoSettings


async def _context(resources: Resources[VideoSettings]) -> VideoContext:
    redaction.install()
    return build_context(resources.settings)


spec = ServiceSpec(
    name="video-svc",
    version="2.0.0",
    area="videos",  # GET /v1/audit asks videos:read
    migrations=Path(__file__).parent / "migrations",
    context=_context,
    routers=api.routers,
    errors=errors.CATALOGUE,
    public_routers=api.public_routers,
    subscriptions=handlers.subscriptions,
    workers=[retention.run],
    # V1: a recording may be several GB; the form's text fields and boundaries fit in 1 MiB
    body_limits=lambda settings: {"POST /v1/videos": settings.max_upload_bytes + 1024 * 1024},
)


def build_app(settings: VideoSettings | None = None) -> FastAPI:
    return create_app(spec, settings or VideoSettings())


def main() -> None:
    run(build_app)
