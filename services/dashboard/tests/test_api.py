"""R4 and R2 on the dashboard's bearer API (the chassis' operational routes): every route
refuses a missing or forged token; fuzzing finds no 5xx. Pages are covered by the browser."""

from __future__ import annotations

from prisme_testing.fuzz import fuzz_openapi
from prisme_testing.security import assert_routes_protected

from .conftest import Dashboard


async def test_every_api_route_refuses_a_missing_or_forged_token(dashboard: Dashboard) -> None:
    assert await assert_routes_protected(dashboard.client, dashboard.app) > 0


async def test_the_pages_are_not_in_the_api_document(dashboard: Dashboard) -> None:
    paths = set(dashboard.app.openapi()["paths"])
    assert not {"/login", "/logout", "/password", "/admin/tokens"} & paths


async def test_fuzzing_the_api_finds_no_server_error(
    dashboard: Dashboard, auth_headers: dict[str, str]
) -> None:
    failures = await fuzz_openapi(dashboard.url, auth_headers, max_examples=5, every_check=True)
    assert failures == [], "\n".join(failures)
