"""The /v1 edge: Request-Id, API-key auth, latency and failure injection, Idempotency-Key."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import StripeError, api_error
from .sandbox import (
    DEFAULT_API_VERSION,
    LOG_LIMIT,
    RequestContext,
    Sandbox,
    StoredResponse,
    current_request,
)
from .store import random_token

_IDEMPOTENT_METHODS = {"POST", "DELETE"}


def api_key_of(authorization: str | None) -> str | None:
    """The key from ``Bearer <key>`` or basic auth ``<key>:``."""
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip()).decode()
        except ValueError:
            return None
        return decoded.partition(":")[0]
    return None


def _masked(key: str) -> str:
    return f"{key[:8]}{'*' * 4}{key[-4:]}" if len(key) > 12 else "****"


def _auth_error(key: str | None) -> StripeError:
    if not key:
        message = (
            "You did not provide an API key. You need to provide your API key in the "
            "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY')."
        )
    else:
        message = f"Invalid API Key provided: {_masked(key)}"
    return StripeError(401, "invalid_request_error", message, code="api_key_invalid")


def _storable(status: int) -> bool:
    # Stripe keeps results once the endpoint began executing (successes, declines, 5xx), but
    # not requests refused by parameter validation.
    return status < 400 or status == 402 or status >= 500


class StripeApiMiddleware:
    """Wraps every ``/v1`` request the way Stripe's API edge treats it."""

    def __init__(self, app: ASGIApp, sandbox: Sandbox) -> None:
        self.app = app
        self.sandbox = sandbox

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        sb = self.sandbox
        headers = Headers(scope=scope)
        method: str = scope["method"]
        path: str = scope["path"]
        request_id = f"req_{random_token(14)}"
        idem_key = headers.get("idempotency-key") if method in _IDEMPOTENT_METHODS else None
        entry: dict[str, Any] = {
            "request_id": request_id,
            "method": method,
            "path": path,
            "idempotency_key": idem_key,
            "status": None,
            "replayed": False,
            "injected": False,
            "at": datetime.now(UTC).isoformat(),
        }
        sb.requests.append(entry)
        del sb.requests[:-LOG_LIMIT]

        async def answer(status: int, body: bytes, *, replayed: bool = False) -> None:
            entry["status"] = status
            entry["replayed"] = replayed
            out = [
                (b"content-type", b"application/json"),
                (b"request-id", request_id.encode()),
                (b"content-length", str(len(body)).encode()),
            ]
            if replayed:
                out.append((b"idempotent-replayed", b"true"))
            if idem_key:
                out.append((b"idempotency-key", idem_key.encode()))
            await send({"type": "http.response.start", "status": status, "headers": out})
            await send({"type": "http.response.body", "body": body})

        async def fail(err: StripeError) -> None:
            await answer(err.status, json.dumps(err.body()).encode())

        key = api_key_of(headers.get("authorization"))
        if key is None or not key.startswith("sk_test_"):
            await fail(_auth_error(key))
            return
        if sb.switches.latency_ms:
            await asyncio.sleep(sb.switches.latency_ms / 1000)
        body = await _read_body(receive)
        if body is None:
            # The client went away before its request was whole (killed mid-send): like the
            # real API, a request that never fully arrived is neither run nor remembered under
            # its idempotency key (else its retry would be refused as "different parameters").
            return
        inject = sb.switches.take_failure(path)
        if inject:
            entry["injected"] = True
            if sb.switches.fail_mode == "before":
                await fail(api_error(sb.switches.fail_status))
                return

        slot: tuple[str, str] | None = None
        fingerprint: tuple[Any, ...] = ()
        if idem_key:
            slot = (key, idem_key)
            fingerprint = (
                method,
                path,
                tuple(sorted(parse_qsl(scope.get("query_string", b"").decode(), True))),
                tuple(sorted(parse_qsl(body.decode(errors="replace"), True))),
            )
            stored = sb.idempotency.entries.get(slot)
            if stored is not None:
                if stored.fingerprint != fingerprint:
                    await fail(
                        StripeError(
                            400,
                            "idempotency_error",
                            "Keys for idempotent requests can only be used with the same "
                            "parameters they were first used with. Try using a key other than "
                            f"'{idem_key}' if you meant to execute a different request.",
                        )
                    )
                elif inject:
                    await fail(api_error(sb.switches.fail_status))
                else:
                    await answer(stored.status, stored.body, replayed=True)
                return
            if slot in sb.idempotency.in_flight:
                await fail(
                    StripeError(
                        409,
                        "idempotency_error",
                        "There is currently another in-progress request using this "
                        "Idempotent Key (that probably means you submitted twice, and the "
                        "other request is still going through).",
                        code="idempotency_key_in_use",
                    )
                )
                return
            sb.idempotency.in_flight.add(slot)

        token = current_request.set(
            RequestContext(
                request_id=request_id,
                idempotency_key=idem_key,
                api_version=headers.get("stripe-version") or DEFAULT_API_VERSION,
            )
        )
        try:
            status, resp_body = await self._run(scope, body)
        finally:
            current_request.reset(token)
            if slot is not None:
                sb.idempotency.in_flight.discard(slot)
        if slot is not None and _storable(status):
            sb.idempotency.entries[slot] = StoredResponse(fingerprint, status, resp_body)
        if inject:
            await fail(api_error(sb.switches.fail_status))
        else:
            await answer(status, resp_body)

    async def _run(self, scope: Scope, body: bytes) -> tuple[int, bytes]:
        sent = False
        status = 500
        chunks: list[bytes] = []

        async def receive() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return {"type": "http.disconnect"}

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, capture)
        return status, b"".join(chunks)


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body; None when the client disconnected before sending all of it."""
    parts: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(parts)
