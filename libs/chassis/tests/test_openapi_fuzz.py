"""R2 on the chassis itself, through the demo service: schemathesis with every check."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from prisme_testing.demo.app import DemoSettings, build_app
from prisme_testing.fuzz import fuzz_openapi
from prisme_testing.runner import start_service


async def test_demo_openapi_holds_under_every_check(
    new_database: Callable[[], Awaitable[str]],
    base_settings: dict[str, Any],
    auth_headers: dict[str, str],
) -> None:
    app = build_app(DemoSettings(**base_settings, database_url=await new_database()))
    async with start_service(app, headers=auth_headers) as client:
        schema = (await client.get("/openapi.json")).json()
        assert "Problem" in schema["components"]["schemas"]
        # a job (no sink configured: it goes dead), so retrying one answers 200 then 409
        item = (await client.post("/items", json={"n": 1})).json()["id"]
        assert (await client.post(f"/items/{item}/deliveries")).status_code == 202
        failures = await fuzz_openapi(
            str(client.base_url),
            auth_headers,
            max_examples=5,
            every_check=True,
            # POST /items answers 500 on purpose when asked to roll back (the bus tests need
            # it); POST /items/bulk writes up to 100,000 rows and events a call (the bench's).
            skip=("POST /items", "POST /items/bulk"),
        )
        # Out-of-range numbers reach the database: a 422 problem, not a 500.
        resp = await client.post("/items/bulk", json={"count": 1})
        assert resp.status_code == 201
        resp = await client.post("/items", json={"n": -3635589639, "rollback": False})
        assert resp.status_code == 422
        assert resp.json()["type"].endswith("/invalid_value")
    assert failures == [], "\n".join(failures)


async def test_fuzzer_reports_a_server_error(
    new_database: Callable[[], Awaitable[str]],
    base_settings: dict[str, Any],
    auth_headers: dict[str, str],
) -> None:
    app = build_app(DemoSettings(**base_settings, database_url=await new_database()))
    async with start_service(app, headers=auth_headers) as client:
        failures = await fuzz_openapi(
            str(client.base_url), auth_headers, max_examples=50, skip=("/v1/", "/items/")
        )
    assert any(f.startswith("POST /items:") for f in failures)
