"""R2 (DESIGN.md §8): schemathesis against a running service's OpenAPI document.

Generated requests (valid and invalid) must never get a 5xx, and documented responses must
match their schema. Runs in a thread: the service under test runs in the test's event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance


def _fuzz(
    base_url: str, headers: Mapping[str, str], max_examples: int, skip: tuple[str, ...]
) -> list[str]:
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    failures: list[str] = []
    checked = 0
    for result in schema.get_all_operations():
        if not hasattr(result, "ok"):
            failures.append(f"invalid operation in the OpenAPI document: {result}")
            continue
        operation = result.ok()
        if operation.path.startswith(skip):
            continue
        checked += 1

        @given(case=operation.as_strategy())
        @hsettings(
            max_examples=max_examples,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: Any) -> None:
            response = case.call(base_url=base_url, headers=dict(headers))
            case.validate_response(
                response, checks=[not_a_server_error, response_schema_conformance]
            )

        try:
            check()
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - reported together
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}"[:2000])
    if checked == 0:
        failures.append("no operation was checked")
    return failures


async def fuzz_openapi(
    base_url: str, headers: Mapping[str, str], *, max_examples: int = 10, skip: Iterable[str] = ()
) -> list[str]:
    """Failures found (empty when the service holds); ``skip`` are path prefixes left out."""
    return await asyncio.to_thread(_fuzz, base_url.rstrip("/"), headers, max_examples, tuple(skip))
