"""R4: every route needs a token; R2: schemathesis finds no 5xx and no answer off-schema."""

from __future__ import annotations

from prisme_testing.fuzz import CHASSIS_ROUTES, ONE_UNEXPECTED_METHOD, fuzz_openapi
from prisme_testing.runner import start_service
from prisme_testing.security import assert_routes_protected
from prisme_webhooks.app import build_app


async def test_routes_are_protected_and_fuzzing_finds_nothing(
    webhooks_settings, auth_headers: dict[str, str], make_token
) -> None:
    app = build_app(await webhooks_settings())
    async with start_service(app) as client:
        await assert_routes_protected(client, app)
        reader = {"Authorization": f"Bearer {make_token(scopes=['webhooks:read'])}"}
        r = await client.post(
            "/v1/endpoints",
            json={"url": "http://127.0.0.1:1/h", "event_types": ["*"]},
            headers=reader,
        )
        assert r.status_code == 403
        assert (await client.get("/v1/endpoints", headers=reader)).status_code == 200
        assert (await client.get("/v1/support-hours", headers=reader)).status_code == 200
        # every operation of the dispatcher's API; the chassis' routes and the eight unexpected
        # methods are checked elsewhere (see CHASSIS_ROUTES, ONE_UNEXPECTED_METHOD)
        failures = await fuzz_openapi(
            str(client.base_url),
            auth_headers,
            max_examples=5,
            every_check=True,
            skip=CHASSIS_ROUTES,
            unexpected_methods=ONE_UNEXPECTED_METHOD,
        )
        assert failures == [], "\n".join(failures)
