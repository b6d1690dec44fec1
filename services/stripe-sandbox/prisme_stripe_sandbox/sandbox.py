"""The sandbox account: objects, events, switches, idempotency cache and webhook dispatcher."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from .store import Obj, Store, now
from .switches import Switches
from .webhooks import DEFAULT_ENDPOINT_ID, DEFAULT_RETRY_DELAYS, Dispatcher, Endpoint, new_secret

DEFAULT_API_VERSION = "2026-10-28.endive"
# The request and delivery logs keep the latest entries only (a long `prisme up` session).
LOG_LIMIT = 10_000


@dataclass
class RequestContext:
    """The API request being served, recorded into the events it causes."""

    request_id: str | None = None
    idempotency_key: str | None = None
    api_version: str = DEFAULT_API_VERSION


current_request: ContextVar[RequestContext] = ContextVar(
    "current_request",
    default=RequestContext(),  # noqa: B039 (immutable use only)
)


@dataclass
class StoredResponse:
    fingerprint: tuple[Any, ...]
    status: int
    body: bytes


@dataclass
class IdempotencyCache:
    """Responses stored under (api key, Idempotency-Key), as Stripe does for 24 hours."""

    entries: dict[tuple[str, str], StoredResponse] = field(default_factory=dict)
    in_flight: set[tuple[str, str]] = field(default_factory=set)


class Sandbox:
    """One Stripe test account, held in memory."""

    def __init__(
        self,
        *,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        retry_delays: Sequence[float] = DEFAULT_RETRY_DELAYS,
    ) -> None:
        self.store = Store()
        self.switches = Switches()
        self.dispatcher = Dispatcher(self.switches)
        self.idempotency = IdempotencyCache()
        self.requests: list[Obj] = []
        self.default_retry_delays = list(retry_delays)
        self._timers: set[asyncio.TimerHandle] = set()
        if webhook_url:
            self.set_default_endpoint(webhook_url, webhook_secret or new_secret())

    def set_default_endpoint(
        self,
        url: str,
        secret: str,
        *,
        retry_delays: Sequence[float] | None = None,
        enabled_events: Sequence[str] = ("*",),
    ) -> Endpoint:
        ep = Endpoint(
            id=DEFAULT_ENDPOINT_ID,
            url=url,
            secret=secret,
            enabled_events=list(enabled_events),
            retry_delays=list(
                retry_delays if retry_delays is not None else self.default_retry_delays
            ),
        )
        self.dispatcher.endpoints[ep.id] = ep
        return ep

    def emit(self, event_type: str, obj: Obj, previous: Obj | None = None) -> Obj:
        """Record a Stripe Event for a state change and hand it to the webhook dispatcher."""
        ctx = current_request.get()
        data: Obj = {"object": copy.deepcopy(obj)}
        if previous:
            data["previous_attributes"] = copy.deepcopy(previous)
        event: Obj = {
            "id": self.store.new_id("evt"),
            "object": "event",
            "api_version": ctx.api_version,
            "created": now(),
            "data": data,
            "livemode": False,
            "pending_webhooks": 0,
            "request": {"id": ctx.request_id, "idempotency_key": ctx.idempotency_key},
            "type": event_type,
        }
        self.store.add(event)
        self.dispatcher.submit(event)
        return event

    def later(self, delay: float, callback: Any) -> None:
        """Run ``callback()`` on the server loop after ``delay`` seconds (cancelled by reset)."""
        handle = asyncio.get_running_loop().call_later(delay, callback)
        self._timers.add(handle)

    def reset(self) -> None:
        """Forget everything except the webhook endpoints."""
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()
        self.store = Store()
        new = Switches()
        for name in Switches.model_fields:
            setattr(self.switches, name, getattr(new, name))
        self.dispatcher.clear()
        self.idempotency = IdempotencyCache()
        self.requests.clear()
