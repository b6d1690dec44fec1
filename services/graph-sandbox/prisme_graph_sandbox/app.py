"""HTTP face of the Graph sandbox: token endpoint, ``/v1.0`` and ``/_sandbox`` control routes."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from .state import Directory, Result, graph_error

MAX_BATCH = 20


class FaultsIn(BaseModel):
    latency_ms: float | None = Field(default=None, ge=0)
    throttle_fraction: float | None = Field(default=None, ge=0, le=1)
    retry_after_seconds: int | None = Field(default=None, ge=0)
    error_fraction: float | None = Field(default=None, ge=0, le=1)
    seed: int | None = None


class SeatsIn(BaseModel):
    sku_part_number: str = "O365_BUSINESS"
    enabled: int = Field(ge=0)


def _response(result: Result) -> Response:
    status, headers, body = result
    if body is None:
        return Response(status_code=status, headers=headers)
    return JSONResponse(body, status_code=status, headers=headers)


def _query(raw: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}


def create_app(directory: Directory | None = None) -> FastAPI:
    """A fresh sandbox app; pass ``directory`` to share or inspect state in-process."""
    d = directory or Directory()
    app = FastAPI(title="Microsoft Graph sandbox", docs_url=None, redoc_url=None)
    app.state.directory = d

    async def _latency() -> None:
        if d.faults.latency_ms:
            await asyncio.sleep(d.faults.latency_ms / 1000)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/{tenant}/oauth2/v2.0/token")
    async def token(tenant: str, request: Request) -> Response:
        form = _query((await request.body()).decode())
        if form.get("grant_type") != "client_credentials":
            return JSONResponse(
                {
                    "error": "unsupported_grant_type",
                    "error_description": "AADSTS70003: grant_type must be client_credentials.",
                },
                status_code=400,
            )
        if not form.get("client_id") or not form.get("client_secret"):
            return JSONResponse(
                {
                    "error": "invalid_client",
                    "error_description": "AADSTS7000215: Invalid client secret provided.",
                },
                status_code=401,
            )
        access_token, ttl = d.issue_token(tenant)
        return JSONResponse(
            {
                "token_type": "Bearer",
                "expires_in": ttl,
                "ext_expires_in": ttl,
                "access_token": access_token,
            }
        )

    def _tenant_of(request: Request) -> str | None:
        auth = request.headers.get("authorization", "")
        if not auth.lower().startswith("bearer "):
            return None
        return d.tenant_for_token(auth[7:].strip())

    def _unauthorized() -> Response:
        return _response(
            graph_error(
                401, "InvalidAuthenticationToken", "Access token is empty, invalid or expired."
            )
        )

    @app.post("/v1.0/$batch")
    async def batch(request: Request) -> Response:
        tenant = _tenant_of(request)
        if tenant is None:
            return _unauthorized()
        d.counters["batches"] += 1
        d.in_flight[tenant] = d.in_flight.get(tenant, 0) + 1
        d.max_in_flight[tenant] = max(d.max_in_flight.get(tenant, 0), d.in_flight[tenant])
        try:
            await _latency()
        finally:
            d.in_flight[tenant] -= 1
        try:
            payload = json.loads(await request.body())
            requests = payload["requests"]
            assert isinstance(requests, list)
        except (ValueError, KeyError, AssertionError):
            return _response(graph_error(400, "BadRequest", "Invalid batch payload."))
        if len(requests) > MAX_BATCH:
            return _response(
                graph_error(400, "BadRequest", f"The number of batch requests exceeds {MAX_BATCH}.")
            )
        ids = [str(r.get("id")) for r in requests]
        if len(set(ids)) != len(ids):
            return _response(graph_error(400, "BadRequest", "Batch request ids must be unique."))
        statuses: dict[str, int] = {}
        responses: list[dict[str, Any]] = []
        for item in requests:
            rid = str(item.get("id"))
            deps = item.get("dependsOn") or []
            if any(statuses.get(str(dep), 0) // 100 != 2 for dep in deps):
                result: Result = graph_error(424, "FailedDependency", "A dependency failed.")
            else:
                result = d.injected_fault() or _dispatch_item(d, tenant, item)
            status, headers, body = result
            statuses[rid] = status
            entry: dict[str, Any] = {"id": rid, "status": status, "headers": headers}
            if body is not None:
                entry["body"] = body
            responses.append(entry)
        return JSONResponse({"responses": responses})

    @app.api_route("/v1.0/{path:path}", methods=["GET", "POST", "PATCH", "DELETE"])
    async def graph(path: str, request: Request) -> Response:
        tenant = _tenant_of(request)
        if tenant is None:
            return _unauthorized()
        await _latency()
        fault = d.injected_fault()
        if fault is not None:
            return _response(fault)
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            return _response(graph_error(400, "BadRequest", "Invalid JSON body."))
        return _response(d.dispatch(tenant, request.method, path, _query(request.url.query), body))

    # -- control routes (not Graph): seats, faults, state dump ---------------------------
    @app.post("/_sandbox/tenants/{tenant}/seats")
    async def set_seats(tenant: str, body: SeatsIn) -> dict[str, Any]:
        sku = d.set_seats(tenant, body.sku_part_number, body.enabled)
        return {"skuId": sku.sku_id, "skuPartNumber": sku.part_number, "enabled": sku.enabled}

    @app.post("/_sandbox/faults")
    async def set_faults(body: FaultsIn) -> dict[str, Any]:
        for key, value in body.model_dump(exclude_none=True).items():
            setattr(d.faults, key, value)
        if body.seed is not None:
            d.rng.seed(body.seed)
        return vars(d.faults)

    @app.get("/_sandbox/state")
    async def state(tenant: str | None = None) -> dict[str, Any]:
        return d.dump(tenant)

    @app.post("/_sandbox/reset", status_code=204)
    async def reset() -> None:
        fresh = Directory(d.default_seats, d.token_ttl)
        d.__dict__.update(fresh.__dict__)

    return app


def _dispatch_item(d: Directory, tenant: str, item: dict[str, Any]) -> Result:
    url = str(item.get("url", ""))
    parts = urlsplit(url if url.startswith("/") else "/" + url)
    path = parts.path.removeprefix("/v1.0")
    return d.dispatch(
        tenant, str(item.get("method", "GET")), path, _query(parts.query), item.get("body")
    )
