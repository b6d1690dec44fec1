"""R2: schemathesis (every check, coverage, fuzzing and stateful phases) against licence-svc."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from prisme_licence.app import build_app
from prisme_testing.fuzz import fuzz_openapi
from prisme_testing.plugin import start_service


async def test_openapi_holds_under_every_check(
    new_database: Callable[[], Awaitable[str]],
    settings_for: Callable[..., Any],
    auth_headers: dict[str, str],
) -> None:
    async with start_service(
        build_app(settings_for(await new_database())), headers=auth_headers
    ) as api:
        failures = await fuzz_openapi(
            str(api.base_url), auth_headers, max_examples=5, every_check=True
        )
    assert failures == [], "\n".join(failures)
