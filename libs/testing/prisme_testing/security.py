"""R4 for any service: every non-public route refuses a missing or bad token."""

from __future__ import annotations

import re
from collections.abc import Iterable

import httpx
from fastapi import FastAPI
from prisme_chassis.keys import generate_keypair, mint_token

ALWAYS_PUBLIC = {
    "/healthz",
    "/readyz",
    "/metrics",
    "/openapi.json",
    "/docs",
    "/redoc",
    "/docs/oauth2-redirect",
}


def protected_routes(app: FastAPI, public_prefixes: Iterable[str] = ()) -> list[tuple[str, str]]:
    """(method, concrete path) of every route that must demand a token."""
    prefixes = tuple(public_prefixes)
    out = []
    for template, operations in app.openapi()["paths"].items():
        if template in ALWAYS_PUBLIC or (prefixes and template.startswith(prefixes)):
            continue
        path = re.sub(r"\{[^}]+\}", "00000000-0000-4000-8000-000000000000", template)
        for method in sorted(operations):
            out.append((method.upper(), path))
    return out


async def assert_routes_protected(
    client: httpx.AsyncClient, app: FastAPI, public_prefixes: Iterable[str] = ()
) -> int:
    """Call every protected route with no token, a forged one and garbage; all must be 401."""
    foreign_key, _ = generate_keypair()
    forged = mint_token(foreign_key, sub="intruder", scopes=["admin"])
    routes = protected_routes(app, public_prefixes)
    assert routes, "no protected route found"
    for method, path in routes:
        for headers in (
            {},
            {"Authorization": f"Bearer {forged}"},
            {"Authorization": "Bearer x.y.z"},
        ):
            resp = await client.request(method, path, headers=headers)
            assert resp.status_code == 401, (
                f"{method} {path} answered {resp.status_code} to {headers or 'no token'}"
            )
            assert resp.headers["content-type"].startswith("application/problem+json")
    return len(routes)
