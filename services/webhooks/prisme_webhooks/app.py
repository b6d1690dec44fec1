"""The webhooks service: integrators' endpoints (Standard Webhooks 1.0) and alert e-mails."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from prisme_chassis import jobs
from prisme_chassis.app import Runtime, ServiceSpec, create_app, run
from prisme_events import stream_of

from . import alerting, api, delivery, handlers
from .context import ALERT_MAIL, DIGEST_MAIL, Context, delivery_kind
from .deadletters import watch_dead_letters
from .mailer import Mailer
from .sealing import Sealer
from .settings import WebhooksSettings
from .ssrf import delivery_client


async def _startup(rt: Runtime) -> None:
    settings = rt.settings
    assert isinstance(settings, WebhooksSettings)
    master = settings.master_key.get_secret_value() if settings.master_key else None
    rt.state["ctx"] = Context(
        settings=settings,
        sealer=Sealer.from_settings(settings, master),
        client=delivery_client(
            timeout=settings.timeout_seconds,
            enforce=settings.enforce_public_urls,
            connections=settings.delivery_concurrency,
        ),
        mailer=Mailer(settings),
        deliver=delivery_kind(settings),
    )


async def _shutdown(rt: Runtime) -> None:
    ctx: Context | None = rt.state.get("ctx")
    if ctx is not None:
        await ctx.client.aclose()


def _jobs(rt: Runtime) -> list[jobs.JobBinding]:
    ctx: Context = rt.state["ctx"]
    return [
        ctx.deliver.handle(delivery.handler(ctx, rt.pool)),
        ALERT_MAIL.handle(alerting.mail_handler(ctx, rt.pool)),
        DIGEST_MAIL.handle(alerting.digest_handler(ctx, rt.pool)),
    ]


async def _digests(rt: Runtime) -> None:
    await alerting.digest_scheduler(rt.state["ctx"], rt.pool)


async def _dead_letters(rt: Runtime) -> None:
    await watch_dead_letters(rt.state["ctx"], rt.pool, rt.js)


spec = ServiceSpec(
    name="webhooks",
    stream=stream_of("services"),
    migrations=Path(__file__).parent / "migrations",
    routers=[api.router],
    subscriptions=handlers.subscriptions,
    jobs=_jobs,
    workers=[_digests, _dead_letters],
    on_startup=_startup,
    on_shutdown=_shutdown,
    area="webhooks",
)


def build_app(settings: WebhooksSettings | None = None) -> FastAPI:
    return create_app(spec, settings or WebhooksSettings())


def main() -> None:
    run(build_app)
