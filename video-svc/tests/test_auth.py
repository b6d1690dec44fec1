"""R4: every non-public route refuses a missing, forged or under-scoped token."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

PUBLIC = ("/v/", "/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/redoc")


async def test_every_private_route_wants_a_token_with_its_scope(svc: Any, make_token: Any) -> None:
    spec = (await svc.client.get("/openapi.json")).json()
    routes = [
        (method.upper(), path)
        for path, operations in spec["paths"].items()
        for method in operations
        if not path.startswith(PUBLIC)
    ]
    assert ("POST", "/v1/videos") in routes
    assert len(routes) >= 9
    wrong_scope = {"Authorization": f"Bearer {make_token(scopes=('contracts:read',))}"}
    forged = {"Authorization": "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."}
    async with svc.viewer() as anonymous:
        for method, path in routes:
            url = (
                path.replace("{video_id}", str(uuid.uuid4()))
                .replace("{link_id}", str(uuid.uuid4()))
                .replace("{seq}", "1")
            )
            assert (await anonymous.request(method, url)).status_code == 401, (method, path)
            assert (await anonymous.request(method, url, headers=forged)).status_code == 401
            denied = await anonymous.request(method, url, headers=wrong_scope)
            assert denied.status_code == 403, (method, path, denied.status_code)


@pytest.mark.parametrize("scope", ["videos:read"])
async def test_read_scope_cannot_write(svc: Any, make_token: Any, scope: str) -> None:
    reader = {"Authorization": f"Bearer {make_token(scopes=(scope,))}"}
    async with svc.viewer() as client:
        assert (await client.get("/v1/links", headers=reader)).status_code == 200
        r = await client.post(f"/v1/videos/{uuid.uuid4()}/links", headers=reader)
        assert r.status_code == 403
        assert r.json()["required_scopes"] == ["videos:write"]
