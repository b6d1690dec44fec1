"""The webhooks service: integrators' endpoints (Standard Webhooks 1.0) and alert e-mails."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from prisme_chassis import jobs
from prisme_chassis.app import ServiceSpec, create_app, run
from prisme_events import stream_of

from . import alerting, api, delivery, handlers
from .context import ALERT_MAIL, DIGEST_MAIL, WebhooksRuntime, build_context
from .deadletters import watch_dead_letters
from .settings import WebhooksSettings


async def _shutdown(rt: WebhooksRuntime) -> None:
    await rt.context.client.aclose()


def _jobs(rt: WebhooksRuntime) -> list[jobs.JobBinding]:
    ctx = rt.context
    return [
        ctx.deliver.handle_batch(delivery.handler(ctx, rt.pool)),
        ALERT_MAIL.handle(alerting.mail_handler(ctx, rt.pool)),
        DIGEST_MAIL.handle(alerting.digest_handler(ctx, rt.pool)),
    ]


async def _digests(rt: WebhooksRuntime) -> None:
    await alerting.digest_scheduler(rt.context, rt.pool)


async def _dead_letters(rt: WebhooksRuntime) -> None:
    await watch_dead_letters(rt.context, rt.pool, rt.js)


spec = ServiceSpec(
    name="webhooks",
    # the WEBHOOKS stream and its NATS user are the platform processes' of services/
    stream=stream_of("webhooks"),
    migrations=Path(__file__).parent / "migrations",
    context=build_context,
    routers=[api.router],
    subscriptions=handlers.subscriptions,
    jobs=_jobs,
    workers=[_digests, _dead_letters],
    on_shutdown=_shutdown,
    area="webhooks",
)


def build_app(settings: WebhooksSettings | None = None) -> FastAPI:
    return create_app(spec, settings or WebhooksSettings())


def main() -> None:
    run(build_app)
