"""Problem details for every error, route-template metrics, health routes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from prisme_chassis import http as chassis_http
from prisme_chassis.errors import Gone, NotFound, TooManyRequests
from prisme_chassis.http import (
    RequestMetricsMiddleware,
    health_router,
    install_problem_handlers,
)
from prisme_chassis.metrics import REGISTRY
from pydantic import BaseModel

SERVICE = "test-http-svc"


class NewThing(BaseModel):
    name: str
    quantity: int
    password: str | None = None


class Readiness:
    def __init__(self) -> None:
        self.checks = {"database": True, "bus": True}
        self.error: Exception | None = None
        self.delay = 0.0

    async def __call__(self) -> dict[str, bool]:
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.error is not None:
            raise self.error
        return dict(self.checks)


def build_app(readiness: Readiness) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    app.add_middleware(RequestMetricsMiddleware, service=SERVICE)
    router = APIRouter(prefix="/v1")

    @router.get("/things/{thing_id}")
    async def get_thing(thing_id: int) -> dict[str, int]:
        if thing_id == 0:
            raise NotFound("no such thing", thing_id=thing_id)
        if thing_id == 1:
            raise RuntimeError("db password is hunter2")
        if thing_id == 2:
            raise TooManyRequests("slow down", retry_after=30)
        if thing_id == 3:
            raise Gone("link expired")
        return {"thing_id": thing_id}

    @router.post("/things", status_code=201)
    async def create_thing(body: NewThing) -> dict[str, str]:
        return {"name": body.name}

    app.include_router(router)
    app.include_router(health_router(readiness))
    return app


@pytest.fixture
def readiness() -> Readiness:
    return Readiness()


@pytest.fixture
async def client(readiness: Readiness) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build_app(readiness))
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as c:
        yield c


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, object] = response.json()
    assert body["type"] == f"https://prisme.example/problems/{code}"
    assert body["status"] == status
    assert body["instance"] == response.request.url.path
    assert isinstance(body["title"], str)
    assert isinstance(body["detail"], str)
    return body


async def test_domain_error_problem(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.get("/v1/things/0"), 404, "not_found")
    assert body["detail"] == "no such thing"
    assert body["thing_id"] == 0
    assert_problem(await client.get("/v1/things/3"), 410, "gone")


async def test_too_many_requests_sets_retry_after(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/things/2")
    assert_problem(response, 429, "too_many_requests")
    assert response.headers["retry-after"] == "30"


async def test_unknown_route_is_404_problem(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/v1/nowhere"), 404, "not_found")


async def test_wrong_method_is_405_problem(client: httpx.AsyncClient) -> None:
    response = await client.delete("/v1/things/5")
    assert_problem(response, 405, "method_not_allowed")
    assert "GET" in response.headers["allow"]


async def test_validation_error_lists_fields_without_echoing_input(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/v1/things", json={"quantity": "many", "password": 12345678901234}
    )
    body = assert_problem(response, 422, "validation_error")
    errors = body["errors"]
    assert isinstance(errors, list)
    locs = sorted(tuple(e["loc"]) for e in errors)
    assert locs == [("body", "name"), ("body", "password"), ("body", "quantity")]
    assert all(set(e) == {"loc", "msg", "type"} for e in errors)
    assert "12345678901234" not in response.text
    assert "many" not in response.text


async def test_malformed_json_is_422_problem(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/things", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert_problem(response, 422, "validation_error")


async def test_unhandled_error_is_generic_500_and_logged(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="prisme_chassis.http"):
        response = await client.get("/v1/things/1")
    body = assert_problem(response, 500, "internal_error")
    assert "hunter2" not in response.text
    assert "RuntimeError" not in response.text
    assert "Traceback" not in response.text
    records = [r for r in caplog.records if r.name == "prisme_chassis.http"]
    assert len(records) == 1
    assert records[0].exc_info is not None
    assert isinstance(records[0].exc_info[1], RuntimeError)
    assert body["detail"] == "An unexpected error occurred; it has been logged."


async def test_success_is_untouched(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/things", json={"name": "pc-01", "quantity": 1})
    assert response.status_code == 201
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"name": "pc-01"}


def requests_count(route: str, status: str, method: str = "GET") -> float:
    value = REGISTRY.get_sample_value(
        "prisme_http_requests_total",
        {"service": SERVICE, "method": method, "route": route, "status": status},
    )
    return value or 0.0


async def test_metrics_use_route_template(client: httpx.AsyncClient) -> None:
    ok_before = requests_count("/v1/things/{thing_id}", "200")
    err_before = requests_count("/v1/things/{thing_id}", "500")
    unmatched_before = requests_count("<unmatched>", "404")
    await client.get("/v1/things/41")
    await client.get("/v1/things/42")
    await client.get("/v1/things/1")
    await client.get("/v1/nothing-here/42")
    assert requests_count("/v1/things/{thing_id}", "200") == ok_before + 2
    assert requests_count("/v1/things/{thing_id}", "500") == err_before + 1
    assert requests_count("<unmatched>", "404") == unmatched_before + 1
    assert requests_count("/v1/things/41", "200") == 0
    count = REGISTRY.get_sample_value(
        "prisme_http_request_duration_seconds_count",
        {"service": SERVICE, "method": "GET", "route": "/v1/things/{thing_id}"},
    )
    assert count is not None
    assert count >= 3


async def test_metrics_endpoint(client: httpx.AsyncClient) -> None:
    await client.get("/healthz")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert f'prisme_http_requests_total{{method="GET",route="/healthz",service="{SERVICE}"' in (
        response.text
    )


async def test_healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_ready(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": True, "bus": True}}


async def test_readyz_503_lists_failed_checks(
    client: httpx.AsyncClient, readiness: Readiness
) -> None:
    readiness.checks["bus"] = False
    body = assert_problem(await client.get("/readyz"), 503, "not_ready")
    assert body["failed"] == ["bus"]
    assert body["checks"] == {"database": True, "bus": False}
    assert body["detail"] == "not ready: bus"


async def test_readyz_503_when_check_raises(
    client: httpx.AsyncClient, readiness: Readiness, caplog: pytest.LogCaptureFixture
) -> None:
    readiness.error = ConnectionRefusedError("pg down")
    with caplog.at_level(logging.ERROR, logger="prisme_chassis.http"):
        body = assert_problem(await client.get("/readyz"), 503, "not_ready")
    assert body["detail"] == "readiness checks failed to run"
    assert "pg down" not in str(body)
    assert any(r.exc_info for r in caplog.records)


async def test_readyz_503_when_check_hangs(
    client: httpx.AsyncClient, readiness: Readiness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(chassis_http, "READY_TIMEOUT_SECONDS", 0.05)
    readiness.delay = 5.0
    body = assert_problem(await client.get("/readyz"), 503, "not_ready")
    assert body["detail"] == "readiness checks timed out"


def test_health_routes_in_openapi_except_metrics(readiness: Readiness) -> None:
    paths = build_app(readiness).openapi()["paths"]
    assert "/healthz" in paths
    assert "/readyz" in paths
    assert "/metrics" not in paths
