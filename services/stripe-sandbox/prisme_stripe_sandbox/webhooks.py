"""Signed webhook delivery with retries and a delivery log (Stripe's signature scheme)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import httpx

from .store import Obj, now, random_token
from .switches import Switches

log = logging.getLogger(__name__)

DEFAULT_RETRY_DELAYS: tuple[float, ...] = (1.0, 2.0, 5.0, 10.0, 30.0)
DEFAULT_ENDPOINT_ID = "we_sandbox_default"
LOG_LIMIT = 10_000  # delivery log entries kept


def sign(payload: str, secret: str, timestamp: int) -> str:
    """The ``Stripe-Signature`` header value: ``t=<ts>,v1=<HMAC-SHA256(secret, "t.payload")>``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def new_secret() -> str:
    return f"whsec_{random_token(32)}"


@dataclass
class Endpoint:
    """A webhook endpoint of the sandbox account."""

    id: str
    url: str
    secret: str
    enabled_events: list[str] = field(default_factory=lambda: ["*"])
    retry_delays: list[float] = field(default_factory=lambda: list(DEFAULT_RETRY_DELAYS))
    description: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    created: int = field(default_factory=now)

    def matches(self, event_type: str) -> bool:
        return "*" in self.enabled_events or event_type in self.enabled_events

    def as_object(self, *, with_secret: bool = False) -> Obj:
        obj: Obj = {
            "id": self.id,
            "object": "webhook_endpoint",
            "url": self.url,
            "enabled_events": list(self.enabled_events),
            "description": self.description,
            "metadata": dict(self.metadata),
            "status": "enabled",
            "api_version": None,
            "created": self.created,
            "livemode": False,
        }
        if with_secret:
            obj["secret"] = self.secret
        return obj


Outcome = Literal["delivered", "failed", "dropped", "held"]


class Dispatcher:
    """Posts each event to the matching endpoints, concurrently, retrying non-2xx answers."""

    def __init__(self, switches: Switches) -> None:
        self.switches = switches
        self.endpoints: dict[str, Endpoint] = {}
        self.deliveries: list[Obj] = []
        self.held: list[tuple[Obj, Endpoint]] = []
        # event id -> endpoint id -> True (delivered), False (given up / dropped), None (pending)
        self.status: dict[str, dict[str, bool | None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._client: httpx.AsyncClient | None = None

    async def start(self) -> None:
        self._client = httpx.AsyncClient(timeout=10.0)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def clear(self) -> None:
        """Forget deliveries (reset); endpoints are kept, in-flight deliveries cancelled."""
        for task in list(self._tasks):
            task.cancel()
        self.deliveries.clear()
        self.held.clear()
        self.status.clear()

    def delivered(self, event_id: str) -> bool:
        """Stripe's ``delivery_success``: every endpoint answered 2xx."""
        return all(v is True for v in self.status.get(event_id, {}).values())

    def submit(self, event: Obj) -> None:
        """Deliver a new event according to the switches."""
        targets = [ep for ep in self.endpoints.values() if ep.matches(event["type"])]
        self.status[event["id"]] = {ep.id: None for ep in targets}
        event["pending_webhooks"] = len(targets)
        if not targets:
            return
        drop = self.switches.take_drop()
        for ep in targets:
            if drop:
                self._log(event, ep, 0, None, "dropped by switch", "dropped")
                self._settle(event, ep, ok=False)
            elif self.switches.hold_webhooks:
                self._log(event, ep, 0, None, "held by switch", "held")
                self.held.append((event, ep))
            else:
                self._spawn(event, ep)
                if self.switches.duplicate_webhooks:
                    self._spawn(event, ep)

    def release(self, order: Literal["fifo", "reverse"]) -> int:
        held, self.held = self.held, []
        if order == "reverse":
            held.reverse()
        for event, ep in held:
            self._spawn(event, ep)
        return len(held)

    def redeliver(
        self,
        event: Obj,
        *,
        timestamp: int | None = None,
        secret: str | None = None,
        unsigned: bool = False,
    ) -> int:
        """Send an event again (a replay), optionally stale, forged or unsigned."""
        targets = [ep for ep in self.endpoints.values() if ep.matches(event["type"])]
        for ep in targets:
            self._spawn(event, ep, timestamp=timestamp, secret=secret, unsigned=unsigned)
        return len(targets)

    async def settle_cancelled(self) -> None:
        """Let cancelled deliveries finish unwinding (after ``clear``)."""
        tasks = [t for t in self._tasks if t.cancelled() or t.cancelling()]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def wait_idle(self) -> None:
        """Wait for every in-flight delivery (including retries) to finish."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _spawn(self, event: Obj, ep: Endpoint, **overrides: Any) -> None:
        task = asyncio.get_running_loop().create_task(self._deliver(event, ep, **overrides))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _settle(self, event: Obj, ep: Endpoint, *, ok: bool) -> None:
        per_event = self.status.setdefault(event["id"], {})
        if per_event.get(ep.id) is True:
            return
        per_event[ep.id] = ok
        event["pending_webhooks"] = sum(1 for v in per_event.values() if v is not True)

    def _log(
        self,
        event: Obj,
        ep: Endpoint,
        attempt: int,
        status_code: int | None,
        error: str | None,
        outcome: Outcome,
    ) -> None:
        self.deliveries.append(
            {
                "event_id": event["id"],
                "event_type": event["type"],
                "endpoint": ep.id,
                "url": ep.url,
                "attempt": attempt,
                "status_code": status_code,
                "error": error,
                "outcome": outcome,
                "at": datetime.now(UTC).isoformat(),
            }
        )
        del self.deliveries[:-LOG_LIMIT]

    async def _deliver(
        self,
        event: Obj,
        ep: Endpoint,
        *,
        timestamp: int | None = None,
        secret: str | None = None,
        unsigned: bool = False,
    ) -> None:
        if self._client is None:
            await self.start()
        assert self._client is not None
        payload = json.dumps(event, indent=2)
        delays: Sequence[float] = [0.0, *ep.retry_delays]
        for attempt, delay in enumerate(delays, start=1):
            if delay:
                await asyncio.sleep(delay)
            headers = {
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            }
            if not unsigned:
                t = timestamp if timestamp is not None else int(time.time())
                headers["Stripe-Signature"] = sign(payload, secret or ep.secret, t)
            status_code: int | None = None
            error: str | None = None
            try:
                response = await self._client.post(
                    ep.url, content=payload.encode(), headers=headers
                )
                status_code = response.status_code
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
            ok = status_code is not None and 200 <= status_code < 300
            last = attempt == len(delays)
            self._log(event, ep, attempt, status_code, error, "delivered" if ok else "failed")
            if ok or last:
                self._settle(event, ep, ok=ok)
                if not ok:
                    log.warning("webhook %s to %s given up", event["id"], ep.url)
                return
