"""The service runtime and HTTP app factory: one call gives every service the same chassis.

``create_app(spec, settings)`` returns a FastAPI app whose lifespan sets up telemetry, the
database pool and migrations, the NATS connection and streams, the outbox relay, the consumers
and the service's workers, and tears them down gracefully (consumers finish their batch, the
NATS connection is drained).

Typed end to end: a ``ServiceSpec[S, C]`` names its settings class ``S`` and builds its own
context ``C`` (clients, keys, runners: a dataclass the service declares) from the chassis'
``Resources[S]``; its workers, subscriptions and routes then receive a ``Runtime[S, C]`` whose
``settings`` and ``context`` are of those types, so no service looks anything up by string or
asserts a type.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Generic, TypeVar

import asyncpg
import nats
import nats.errors
import uvicorn
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi import Path as FastAPIPath
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from prisme_events import StreamSpec, stream_of
from pydantic import BaseModel, Field

from . import audit, clock, pagination, revocations, telemetry
from .auth import Authenticator, Principal, authenticate, require_scopes
from .bus import (
    Consumer,
    DeadLetter,
    NotADeadLetter,
    OutboxRelay,
    Subscription,
    list_dead_letters,
    load_dead_letter,
    provision_service,
)
from .bus.routes import outbox_router
from .clock_api import clock_router
from .db import create_pool, migrate_service, reading, transaction
from .errors import (
    PROBLEM_CONTENT_TYPE,
    DomainError,
    NotFound,
    Unprocessable,
    catalogue,
    problem_component,
    problems,
)
from .http import (
    RequestMetricsMiddleware,
    health_router,
    install_problem_handlers,
    problem_response,
)
from .jobs import JobBinding, JobWorker, jobs_router, worker_name
from .limits import LIMIT_ERRORS, BodyLimitMiddleware, BodyLimits
from .settings import ServiceSettings

log = logging.getLogger(__name__)

S = TypeVar("S", bound=ServiceSettings)
C = TypeVar("C")


@dataclass(frozen=True)
class Resources(Generic[S]):
    """What the chassis has opened when the service builds its context."""

    settings: S
    pool: asyncpg.Pool
    nc: NATS
    js: JetStreamContext


@dataclass(frozen=True)
class ServiceSpec(Generic[S, C]):
    """What makes a service: its name, schema, context, routes, subscriptions and loops.

    ``context`` builds the service's own context (its clients, keys, runners) once the pool and
    the bus are up; ``on_shutdown`` closes what it opened.
    """

    name: str
    migrations: Path
    context: Callable[[Resources[S]], Awaitable[C]]
    routers: Sequence[APIRouter] = ()
    public_routers: Sequence[APIRouter] = ()
    subscriptions: Callable[[Runtime[S, C]], Sequence[Subscription]] | None = None
    workers: Sequence[Callable[[Runtime[S, C]], Awaitable[None]]] = ()
    on_shutdown: Callable[[Runtime[S, C]], Awaitable[None]] | None = None
    #: The service's catalogue of domain errors (its ``errors.py``), documented as components.
    errors: Sequence[type[DomainError]] = ()
    version: str = "1.0.0"
    db_pool_size: int = 10
    stream: StreamSpec | None = None  # defaults to the catalogue's stream owned by ``name``
    #: scope area of the chassis' operational routes for this service (``billing`` →
    #: ``billing:read`` to list jobs and read ``/v1/audit``, ``billing:write`` to retry a job);
    #: None: ``admin`` only
    area: str | None = None
    #: the job kinds this service runs, each bound to its handler (prisme_chassis.jobs);
    #: when given, the service runs a job worker and serves ``/v1/jobs``
    jobs: Callable[[Runtime[S, C]], Sequence[JobBinding]] | None = None
    #: routes whose body may exceed the 1 MiB default (uploads), from the settings:
    #: ``{"POST /v1/videos": settings.max_upload_bytes + …}`` (prisme_chassis.limits)
    body_limits: Callable[[S], Mapping[str, int]] | None = None


@dataclass
class Runtime(Generic[S, C]):
    """What a running service holds; ``app.state.runtime``."""

    spec: ServiceSpec[S, C]
    settings: S
    pool: asyncpg.Pool
    nc: NATS
    js: JetStreamContext
    context: C
    consumers: dict[str, Consumer] = field(default_factory=dict)
    relay: OutboxRelay | None = None
    job_worker: JobWorker | None = None


def database_url(settings: ServiceSettings) -> str:
    dsn = getattr(settings, "database_url", None)
    if not isinstance(dsn, str) or not dsn:
        raise RuntimeError(f"{type(settings).__name__} has no database_url")
    return dsn


async def connect_nats(
    url: str, name: str, timeout: float = 30.0, *, inbox_prefix: str | None = None
) -> NATS:
    """Connect, retrying for ``timeout`` seconds; reconnects forever afterwards.

    Replies come to ``_INBOX_<name>.…`` (or ``inbox_prefix``): each service's NATS user may
    subscribe only to its own inbox prefix, so no service reads another's deliveries.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout

    async def on_error(exc: Exception) -> None:
        log.warning("nats: %s", exc)

    while True:
        try:
            nc: NATS = await nats.connect(
                url,
                name=name,
                allow_reconnect=True,
                max_reconnect_attempts=-1,
                reconnect_time_wait=0.25,
                connect_timeout=2,
                error_cb=on_error,
                inbox_prefix=inbox_prefix or f"_INBOX_{name}",
            )
            return nc
        except (OSError, nats.errors.NoServersError, TimeoutError):
            if loop.time() > deadline:
                raise
            await asyncio.sleep(0.25)


async def _supervise(name: str, factory: Callable[[], Awaitable[None]]) -> None:
    """Run a background loop; restart it after a crash (a bug must not stop the service)."""
    delay = 0.5
    while True:
        try:
            await factory()
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("background task %s crashed; restarting in %.1fs", name, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)


async def start_runtime(spec: ServiceSpec[S, C], settings: S) -> Runtime[S, C]:
    dsn = database_url(settings)
    pool = await create_pool(dsn, max_size=spec.db_pool_size, application_name=spec.name)
    try:
        await migrate_service(pool, spec.name, spec.migrations)
        nc = await connect_nats(settings.nats_url, spec.name)
    except BaseException:
        await pool.close()
        raise
    js = nc.jetstream()
    try:
        context = await spec.context(Resources(settings=settings, pool=pool, nc=nc, js=js))
    except BaseException:
        with contextlib.suppress(Exception):
            await nc.close()
        await pool.close()
        raise
    return Runtime(spec=spec, settings=settings, pool=pool, nc=nc, js=js, context=context)


async def _provision(rt: Runtime[S, C], subs: Sequence[Subscription]) -> None:
    """Streams and consumers by the provisioning identity when given, then checked as ours."""
    own = rt.spec.stream
    if own is None:
        with contextlib.suppress(KeyError):
            own = stream_of(rt.spec.name)
    replicas = rt.settings.stream_replicas
    if rt.settings.nats_provision_url:
        async with provisioning(rt.settings, rt.js) as js:
            await provision_service(js, rt.spec.name, own, subs, replicas)
    await provision_service(rt.js, rt.spec.name, own, subs, replicas)


@contextlib.asynccontextmanager
async def provisioning(
    settings: ServiceSettings, js: JetStreamContext
) -> AsyncIterator[JetStreamContext]:
    """JetStream as the provisioning identity (``nats_provision_url``) for the block, closed
    after it; the service's own ``js`` when none is configured (an open server, or one where
    everything is already provisioned). For what a service provisions beyond its subscriptions.
    """
    if not settings.nats_provision_url:
        yield js
        return
    nc = await connect_nats(
        settings.nats_provision_url, "provisioner", inbox_prefix="_INBOX_provisioner"
    )
    try:
        yield nc.jetstream()
    finally:
        await nc.close()


@contextlib.asynccontextmanager
async def running(spec: ServiceSpec[S, C], settings: S) -> AsyncIterator[Runtime[S, C]]:
    """The service's whole back end (no HTTP): usable by the app's lifespan and by scripts."""
    rt = await start_runtime(spec, settings)
    tasks: list[asyncio.Task[None]] = []
    try:
        subs = list(spec.subscriptions(rt)) if spec.subscriptions else []
        await _provision(rt, subs)
        # before any worker reads the time: a service started after a travel starts travelled
        follow_clock = await clock.join_platform_clock(rt.js, settings.env)
        rt.relay = OutboxRelay(rt.pool, rt.js, database_url(settings))
        tasks.append(asyncio.create_task(_supervise("outbox-relay", rt.relay.run)))
        for sub in subs:
            consumer = Consumer(sub, rt.pool, rt.js, spec.name)
            rt.consumers[sub.durable] = consumer
            tasks.append(asyncio.create_task(_supervise(sub.durable, consumer.run)))
        for worker in spec.workers:
            name = getattr(worker, "__qualname__", repr(worker))
            tasks.append(
                asyncio.create_task(_supervise(name, lambda w=worker: w(rt)))  # type: ignore[misc]
            )
        if spec.jobs is not None:
            rt.job_worker = JobWorker(
                rt.pool,
                database_url(settings),
                spec.jobs(rt),
                name=worker_name(spec.name),
                service=spec.name,
            )
            tasks.append(asyncio.create_task(_supervise("job-worker", rt.job_worker.run)))
        if follow_clock:
            follow = functools.partial(clock.follow_platform_clock, rt.js)
            tasks.append(asyncio.create_task(_supervise("platform-clock", follow)))
        yield rt
    finally:
        for consumer in rt.consumers.values():
            consumer.stop()
        consumer_tasks = tasks[1 : 1 + len(rt.consumers)]
        if consumer_tasks:
            await asyncio.wait(consumer_tasks, timeout=10.0)
        for task in tasks:
            task.cancel()
        _, stuck = await asyncio.wait(tasks, timeout=10.0) if tasks else (set(), set())
        for task in stuck:
            log.warning("background task %s did not stop within 10 s", task.get_name())
        if spec.on_shutdown is not None:
            await spec.on_shutdown(rt)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(rt.nc.drain(), timeout=5.0)
        try:
            await asyncio.wait_for(rt.pool.close(), timeout=10.0)
        except TimeoutError:
            log.warning("database connections still busy after 10 s: closing them")
            rt.pool.terminate()


#: Allocations between two young-generation collections once a service is up (CPython's
#: default is 700). A request allocates thousands of short-lived objects (rows, models, the
#: ASGI messages); at 700 the collector ran several times per request.
GC_YOUNG_THRESHOLD = 10_000


def settle_heap() -> None:
    """Once a service has started: collect, then freeze what start-up built (modules, the
    app and its OpenAPI models, pydantic validators, pools) into the permanent generation so
    that no later collection walks it again, and collect the young generation less often.

    Measured on contracts-svc under wrk (py-spy): a quarter of the CPU went to the cyclic
    collector walking the start-up heap again and again (bench/api.py, P4).
    """
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, older, oldest)


def runtime(request: Request) -> Runtime[ServiceSettings, object]:
    """The runtime as the chassis' own routes see it (dead letters, jobs): base settings."""
    rt: Runtime[ServiceSettings, object] = request.app.state.runtime
    return rt


#: For the chassis' own routers; a service's routes use its typed alias (``runtime_dependency``).
RuntimeDep = Annotated[Runtime[ServiceSettings, object], Depends(runtime)]


def runtime_dependency(settings: type[S], context: type[C]) -> Callable[[Request], Runtime[S, C]]:
    """A FastAPI dependency giving a service's routes their ``Runtime[S, C]``::

        VideoRuntime = Runtime[VideoSettings, VideoContext]
        VideoRuntimeDep = Annotated[
            VideoRuntime, Depends(runtime_dependency(VideoSettings, VideoContext))
        ]

    The one check that the app was built with these types lives here, not in each route.
    """

    def dependency(request: Request) -> Runtime[S, C]:
        rt: Runtime[S, C] = request.app.state.runtime
        if not isinstance(rt.settings, settings) or not isinstance(rt.context, context):
            raise TypeError(
                f"{rt.spec.name} runs with {type(rt.settings).__name__}/"
                f"{type(rt.context).__name__}, not {settings.__name__}/{context.__name__}"
            )
        return rt

    return dependency


async def _transaction(request: Request) -> AsyncIterator[asyncpg.Connection]:
    rt: Runtime[ServiceSettings, object] = request.app.state.runtime
    async with transaction(rt.pool) as conn:
        yield conn


# The edge owns the transaction: committed when the route returns, before the response is sent.
Tx = Annotated[asyncpg.Connection, Depends(_transaction, scope="function")]


async def _reading(request: Request) -> AsyncIterator[asyncpg.Connection]:
    rt: Runtime[ServiceSettings, object] = request.app.state.runtime
    async with reading(rt.pool) as conn:
        yield conn


#: For a route that reads with a single statement (a list page, a lookup): a pooled connection
#: without BEGIN/COMMIT (``prisme_chassis.db.reading``). Anything that writes, or reads with
#: several statements that must see one snapshot, takes :data:`Tx`.
Read = Annotated[asyncpg.Connection, Depends(_reading, scope="function")]


class DeadLetterOut(BaseModel):
    seq: int
    durable: str
    subject: str
    event_id: str
    error: str
    delivered: int
    payload: Any = Field(
        default=None,
        description="the event's body as published (JSON; text if it is not JSON): events "
        "carry ids and facts, never secrets (DESIGN §3)",
    )


def _payload(data: bytes) -> Any:
    try:
        return json.loads(data) if data else None
    except ValueError:
        return data.decode("utf-8", "replace")


def _dead_letter_router() -> APIRouter:
    router = APIRouter(tags=["dead letters"])

    @router.get("/v1/dead-letters", responses=problems(pagination.InvalidCursor))
    async def list_letters(
        rt: RuntimeDep,
        limit: pagination.Limit = pagination.DEFAULT_LIMIT,
        cursor: pagination.Cursor = None,
        who: Principal = require_scopes("admin"),
    ) -> pagination.Page[DeadLetterOut]:
        """Dead letters of this service's consumers, oldest first (DESIGN.md §3 reliability
        contract); a keyset page on the dead-letter stream's sequence."""
        after = pagination.decode(cursor, int)
        letters = await list_dead_letters(
            rt.js, rt.spec.name, set(rt.consumers), after=after[0] if after else 0,
            limit=limit + 1,
        )  # fmt: skip
        return pagination.Page[DeadLetterOut].of(
            letters,
            limit,
            key=lambda d: (d.seq,),
            out=lambda d: DeadLetterOut(
                seq=d.seq,
                durable=d.durable,
                subject=d.subject,
                event_id=d.event_id,
                error=d.error,
                delivered=d.delivered,
                payload=_payload(d.data),
            ),
        )

    @router.post("/v1/dead-letters/{seq}/replay", status_code=204)
    async def replay(
        seq: Annotated[int, FastAPIPath(ge=1, le=2**63 - 1)],
        rt: RuntimeDep,
        actor: audit.ActorDep,
        who: Principal = require_scopes("admin"),
    ) -> None:
        """Run a dead letter through its consumer again; it leaves the stream on success."""
        try:
            letter = await load_dead_letter(rt.js, rt.spec.name, seq)
        except NotADeadLetter:
            letter = None
        if letter is None or letter.durable not in rt.consumers:
            raise NotFound(f"no dead letter {seq} for this service")

        async def audited(conn: asyncpg.Connection, replayed: DeadLetter) -> None:
            # in the replay's transaction: the row commits with the effect, or neither does
            await audit.record(
                conn,
                actor,
                "dead_letter.replayed",
                target_type="dead_letter",
                target_id=seq,
                detail={
                    "durable": replayed.durable,
                    "subject": replayed.subject,
                    "event_id": replayed.event_id,
                },
            )

        try:
            await rt.consumers[letter.durable].replay(seq, then=audited)
        except RuntimeError as exc:
            raise Unprocessable(str(exc)) from exc

    return router


PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Problem",
    "description": "RFC 9457 problem details",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
    },
    "additionalProperties": True,
}


def _declared_problems(schema: dict[str, Any]) -> set[str]:
    names: set[str] = set()
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for response in operation.get("responses", {}).values():
                for media in response.get("content", {}).values():
                    for ref in media.get("schema", {}).get("anyOf", []):
                        target = ref.get("$ref", "")
                        if target.startswith("#/components/schemas/Problem-"):
                            names.add(target.rsplit("/", 1)[1])
    return names


#: What the chassis itself may answer, by what the operation has: a token (401, 403), a path
#: parameter (404: the resource is unknown), a body (400: it cannot be parsed).
_EDGE_STATUSES = {
    "401": "Authentication required (missing, invalid, expired or revoked token)",
    "403": "The token lacks a required scope",
    "404": "Not found",
    "400": "The body cannot be parsed",
}


def _declare_edge(operation: dict[str, Any], problem: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    wanted = []
    if operation.get("security"):
        wanted += ["401", "403"]
    if any(p.get("in") == "path" for p in operation.get("parameters", [])):
        wanted.append("404")
    if "requestBody" in operation:
        wanted.append("400")
    for status in wanted:
        responses.setdefault(status, {**problem, "description": _EDGE_STATUSES[status]})


def _declare_limits(responses: dict[str, Any]) -> None:
    """A route taking a body may answer the body limits' 413 problems."""
    limits = problems(*LIMIT_ERRORS)[413]
    declared = responses.get("413")
    if declared is None:
        responses["413"] = limits
        return
    media = declared.setdefault("content", {}).setdefault(PROBLEM_CONTENT_TYPE, {})
    refs = media.setdefault("schema", {}).setdefault("anyOf", [])
    for ref in limits["content"][PROBLEM_CONTENT_TYPE]["schema"]["anyOf"]:
        if ref not in refs:
            refs.append(ref)


def _problem_openapi(
    app: FastAPI, errors: Sequence[type[DomainError]] = ()
) -> Callable[[], dict[str, Any]]:
    """Document errors as they are answered: 422 (and every error) as problem+json, each
    problem type of the service's catalogue as a ``Problem-<code>`` component."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
        problem = {
            "description": "Problem details (RFC 9457)",
            "content": {
                "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
            },
        }
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                declared = responses.get("422", {}).get("content", {})
                if "422" in responses and PROBLEM_CONTENT_TYPE not in declared:
                    responses["422"] = problem
                if "requestBody" in operation:
                    _declare_limits(responses)
                _declare_edge(operation, problem)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
        components["Problem"] = PROBLEM_SCHEMA
        by_name = {e.schema_name(): e for e in catalogue()}
        by_name.update({e.schema_name(): e for e in errors})
        for name in sorted({e.schema_name() for e in errors} | _declared_problems(schema)):
            components[name] = problem_component(by_name[name])
        app.openapi_schema = schema
        return schema

    return openapi


async def _data_error(request: Request, exc: Exception) -> Response:
    # Safety net: a value the database cannot hold (out-of-range number, bad text) is the
    # caller's input, not a server fault. The transaction was already rolled back.
    return problem_response(
        status=422,
        code="invalid_value",
        title="Invalid value",
        detail="A value is out of the accepted range or format.",
        instance=request.url.path,
    )


async def _integrity_error(request: Request, exc: Exception) -> Response:
    return problem_response(
        status=409,
        code="conflict",
        title="Conflict",
        detail="The request conflicts with the current state (a uniqueness or reference rule).",
        instance=request.url.path,
    )


def _check_body_limits(routers: Sequence[APIRouter], limits: Mapping[str, int]) -> None:
    """Each ``body_limits`` key names a route of the service (a typo would cap it at 1 MiB)."""
    known = {
        f"{method} {route.path}"
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in route.methods or ()
    }
    unknown = sorted(set(limits) - known)
    if unknown:
        raise ValueError(f"body_limits name no route of the app: {unknown}")


def create_app(spec: ServiceSpec[S, C], settings: S) -> FastAPI:
    """The FastAPI app of a service, with the whole chassis in its lifespan."""
    telemetry.setup_telemetry(spec.name, settings.otlp_endpoint, settings.log_level)
    telemetry.instrument_clients()

    authenticator = Authenticator(settings.jwt_public_key)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with running(spec, settings) as rt:
            app.state.runtime = rt
            # revoked integration tokens (DESIGN §7): watched for as long as the service runs;
            # requests are served once the list is loaded, so a restart forgets none
            replicas = settings.stream_replicas
            watchers = [
                asyncio.create_task(
                    _supervise(
                        "revocations",
                        lambda: revocations.watch(rt.js, authenticator.revocations, replicas),
                    )
                ),
                asyncio.create_task(
                    _supervise(
                        "token-usage",
                        lambda: revocations.write_usage(rt.js, authenticator.usage, replicas),
                    )
                ),
            ]
            try:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(authenticator.revocations.loaded.wait(), 10.0)
                settle_heap()
                yield
            finally:
                for watcher in watchers:
                    watcher.cancel()
                await asyncio.wait(watchers, timeout=5.0)

    app = FastAPI(
        title=spec.name,
        version=spec.version,
        lifespan=lifespan,
        telemetry=telemetry.FASTAPI_NATIVE_OFF,
    )
    app.state.settings = settings
    app.state.authenticator = authenticator

    async def ready() -> dict[str, bool]:
        rt: Runtime[S, C] | None = getattr(app.state, "runtime", None)
        if rt is None:
            return {"database": False, "bus": False}
        try:
            async with rt.pool.acquire(timeout=2.0) as conn:
                db_ok = await conn.fetchval("SELECT true", timeout=2.0) is True
        except Exception:  # noqa: BLE001 - readiness reports, it does not raise
            db_ok = False
        return {"database": db_ok, "bus": rt.nc.is_connected}

    install_problem_handlers(app)
    app.add_exception_handler(asyncpg.DataError, _data_error)
    app.add_exception_handler(asyncpg.IntegrityConstraintViolationError, _integrity_error)
    routes = dict(spec.body_limits(settings)) if spec.body_limits else {}
    _check_body_limits([*spec.public_routers, *spec.routers], routes)
    app.add_middleware(BodyLimitMiddleware, limits=BodyLimits(routes=routes))
    app.add_middleware(RequestMetricsMiddleware, service=spec.name)
    app.include_router(health_router(ready))
    for router in spec.public_routers:
        app.include_router(router)
    for router in spec.routers:
        # the token first, before any other dependency of the route: one that reads the query
        # (a list's filters and cursor) must not answer 422 to a caller without a token (the
        # route's own require_scopes reuses this result: FastAPI caches a dependency per request)
        app.include_router(router, dependencies=[Depends(authenticate)])
    app.include_router(_dead_letter_router())
    app.include_router(outbox_router())
    if spec.jobs is not None:
        app.include_router(jobs_router(spec.area))
    app.include_router(audit.audit_router(spec.area))
    app.include_router(clock_router())
    telemetry.instrument_app(app)
    app.openapi = _problem_openapi(app, spec.errors)  # type: ignore[method-assign]
    return app


def run(build_app: Callable[[], FastAPI]) -> None:
    """Serve the app with uvicorn; SIGTERM or Ctrl-C drain it gracefully."""
    app = build_app()
    settings: ServiceSettings = app.state.settings
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=15,
        lifespan="on",
        # uvicorn would otherwise believe X-Forwarded-For from 127.0.0.1 and rewrite the client
        # address; which proxies to trust is each service's setting (video-svc's viewer)
        proxy_headers=False,
    )
