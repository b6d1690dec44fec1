"""R2: schemathesis (every check, coverage, fuzzing and stateful phases) against contracts-svc."""

from __future__ import annotations

from prisme_testing.fuzz import CHASSIS_ROUTES, ONE_UNEXPECTED_METHOD, fuzz_openapi

from .conftest import Svc


async def test_openapi_holds_under_every_check(svc: Svc) -> None:
    await svc.active_contract()
    # every operation of contracts-svc; the suite's time goes to its own routes (see
    # CHASSIS_ROUTES and ONE_UNEXPECTED_METHOD for what is checked elsewhere)
    failures = await fuzz_openapi(
        str(svc.alice.base_url),
        dict(svc.alice.headers),
        max_examples=5,
        every_check=True,
        skip=CHASSIS_ROUTES,
        unexpected_methods=ONE_UNEXPECTED_METHOD,
    )
    assert failures == [], "\n".join(failures)
