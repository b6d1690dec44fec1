"""Microsoft Graph client on aiohttp: client-credentials token per tenant, ``$batch``, tracing.

The same code talks to the local sandbox and to graph.microsoft.com; only URLs differ.
Request bodies may hold an initial password: they are never logged here.

aiohttp rather than httpx (P2): a year-end of 10,000 contracts makes 10,000 ``$batch`` calls of
20 operations, and httpx cost 1.1 ms of client CPU per call here (1.6 ms with its OpenTelemetry
wrapper) against 0.24-0.35 ms for aiohttp, the webhooks dispatcher's client. The spans are this
module's own (``graph $batch``, ``graph token``, ``graph GET``). Redirects are not followed, as
with httpx before: Graph does not send any, and a bearer token must not follow one.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from opentelemetry import trace

_tracer = trace.get_tracer("prisme.licence.graph")
GRAPH_SCOPE = "https://graph.microsoft.com/.default"


class GraphUnavailable(Exception):
    """The whole call failed (network, 5xx, 429 on the envelope): retry the jobs later."""

    def __init__(
        self, message: str, *, retry_after: float | None = None, status: int | None = None
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status


class GraphAuthError(Exception):
    """The token endpoint refused our credentials (configuration problem, not transient)."""


#: What a call that never got an answer raises (refused, reset, timed out, garbled).
_NETWORK_ERRORS = (aiohttp.ClientError, OSError, TimeoutError)


@dataclass(frozen=True)
class _Reply:
    """An HTTP answer, read whole."""

    status_code: int
    headers: dict[str, str]
    content: bytes

    def json(self) -> Any:
        return json.loads(self.content)

    def header(self, name: str) -> str | None:
        return _header(self.headers, name)


def _header(headers: dict[str, str], name: str) -> str | None:
    """A header's value whatever its case."""
    return next((v for k, v in headers.items() if k.lower() == name.lower()), None)


@dataclass(frozen=True)
class GraphRequest:
    id: str
    method: str
    url: str  # relative to /v1.0, e.g. "/users/{id}"
    body: dict[str, Any] | None = None
    depends_on: tuple[str, ...] = ()

    def as_batch_item(self) -> dict[str, Any]:
        item: dict[str, Any] = {"id": self.id, "method": self.method, "url": self.url}
        if self.depends_on:
            item["dependsOn"] = list(self.depends_on)
        if self.body is not None:
            item["body"] = self.body
            item["headers"] = {"Content-Type": "application/json"}
        return item


@dataclass(frozen=True)
class GraphResponse:
    id: str
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def error_message(self) -> str:
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), dict):
            return str(self.body["error"].get("message", ""))
        return ""

    def header(self, name: str) -> str | None:
        return _header(self.headers, name)


class GraphClient:
    def __init__(
        self,
        base_url: str,
        token_url: str,
        client_id: str,
        client_secret: str,
        *,
        timeout: float = 30.0,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._token_url = token_url
        self._client_id = client_id
        self._client_secret = client_secret
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None  # opened in the event loop, at use
        self._tokens: dict[str, tuple[str, float]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self.token_requests = 0

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _call(self, method: str, url: str, **kw: Any) -> _Reply:
        """One HTTP exchange, its body read whole (Graph answers are small)."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        async with self._session.request(method, url, allow_redirects=False, **kw) as resp:
            content = await resp.read()
            return _Reply(resp.status, dict(resp.headers), content)

    async def _token(self, tenant: str) -> str:
        cached = self._tokens.get(tenant)
        if cached and cached[1] > time.monotonic():
            return cached[0]
        lock = self._locks.setdefault(tenant, asyncio.Lock())
        async with lock:
            cached = self._tokens.get(tenant)
            if cached and cached[1] > time.monotonic():
                return cached[0]
            with _tracer.start_as_current_span("graph token", attributes={"graph.tenant": tenant}):
                try:
                    resp = await self._call(
                        "POST",
                        self._token_url.format(tenant=tenant),
                        data={
                            "grant_type": "client_credentials",
                            "client_id": self._client_id,
                            "client_secret": self._client_secret,
                            "scope": GRAPH_SCOPE,
                        },
                    )
                except _NETWORK_ERRORS as exc:
                    raise GraphUnavailable(
                        f"token endpoint unreachable: {type(exc).__name__}"
                    ) from exc
            self.token_requests += 1
            if resp.status_code >= 500 or resp.status_code == 429:
                raise GraphUnavailable(
                    f"token endpoint answered {resp.status_code}", status=resp.status_code
                )
            if resp.status_code != 200:
                raise GraphAuthError(f"token endpoint refused the client ({resp.status_code})")
            body = resp.json()
            # Refresh a minute early so a token never expires in flight.
            expires = time.monotonic() + max(0.0, float(body.get("expires_in", 3599)) - 60)
            self._tokens[tenant] = (str(body["access_token"]), expires)
            return str(body["access_token"])

    async def _send(self, tenant: str, method: str, url: str, json: Any = None) -> _Reply:
        for attempt in (1, 2):
            token = await self._token(tenant)
            try:
                resp = await self._call(
                    method,
                    self._base + url,
                    json=json,
                    headers={"Authorization": f"Bearer {token}"},
                )
            except _NETWORK_ERRORS as exc:
                raise GraphUnavailable(f"Graph unreachable: {type(exc).__name__}") from exc
            if resp.status_code == 401 and attempt == 1:
                self._tokens.pop(tenant, None)  # expired or revoked early: fetch a new one once
                continue
            return resp
        return resp

    async def request(self, tenant: str, req: GraphRequest) -> GraphResponse:
        """One Graph call. 429/5xx come back as responses; network errors raise."""
        with _tracer.start_as_current_span(
            f"graph {req.method}",
            attributes={"graph.tenant": tenant, "http.url.path": req.url.split("?")[0]},
        ) as span:
            resp = await self._send(tenant, req.method, req.url, req.body)
            span.set_attribute("http.response.status_code", resp.status_code)
            body = resp.json() if resp.content else None
            return GraphResponse(req.id, resp.status_code, resp.headers, body)

    async def batch(self, tenant: str, requests: list[GraphRequest]) -> dict[str, GraphResponse]:
        """``POST /$batch`` with up to 20 requests; per-item responses by id.

        A failure of the envelope itself (network, 5xx, 429) raises :class:`GraphUnavailable`.
        """
        if not requests:
            return {}
        if len(requests) > 20:
            raise ValueError("Graph accepts at most 20 requests per $batch")
        with _tracer.start_as_current_span(
            "graph $batch", attributes={"graph.tenant": tenant, "graph.batch.size": len(requests)}
        ) as span:
            resp = await self._send(
                tenant, "POST", "/$batch", {"requests": [r.as_batch_item() for r in requests]}
            )
            span.set_attribute("http.response.status_code", resp.status_code)
            if resp.status_code == 429 or resp.status_code >= 500:
                retry = resp.header("Retry-After")
                raise GraphUnavailable(
                    f"$batch answered {resp.status_code}",
                    retry_after=float(retry) if retry and retry.isdigit() else None,
                    status=resp.status_code,
                )
            if resp.status_code != 200:
                raise GraphUnavailable(
                    f"$batch refused ({resp.status_code})", status=resp.status_code
                )
            out: dict[str, GraphResponse] = {}
            for item in resp.json().get("responses", []):
                rid = str(item.get("id"))
                out[rid] = GraphResponse(
                    rid,
                    int(item.get("status", 0)),
                    dict(item.get("headers") or {}),
                    item.get("body"),
                )
            return out
