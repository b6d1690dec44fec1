"""The Graph client against the sandbox app (real HTTP semantics through httpx's ASGI transport)."""

from __future__ import annotations

import httpx
import pytest
from prisme_graph_sandbox import Directory, create_app
from prisme_licence.graph import GraphAuthError, GraphClient, GraphRequest


def _client(directory: Directory, secret: str = "s3cret") -> GraphClient:  # noqa: S107
    http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(directory)), base_url="http://graph"
    )
    return GraphClient(
        "http://graph/v1.0", "http://graph/{tenant}/oauth2/v2.0/token", "app", secret, http=http
    )


async def test_token_is_cached_per_tenant_and_renewed_when_refused() -> None:
    d = Directory()
    g = _client(d)
    skus = GraphRequest("1", "GET", "/subscribedSkus")
    for _ in range(3):
        assert (await g.request("tenant-a", skus)).status == 200
    assert (await g.request("tenant-b", skus)).status == 200
    assert g.token_requests == 2
    d.tokens.clear()  # tokens revoked or expired early on the server side
    assert (await g.request("tenant-a", skus)).status == 200
    assert g.token_requests == 3
    await g.aclose()


async def test_short_lived_tokens_are_refreshed_before_expiry() -> None:
    d = Directory(token_ttl=30)  # below the 60 s safety margin: never reused
    g = _client(d)
    for _ in range(2):
        assert (await g.request("t", GraphRequest("1", "GET", "/subscribedSkus"))).status == 200
    assert g.token_requests == 2
    await g.aclose()


async def test_bad_client_secret_is_an_auth_error() -> None:
    g = _client(Directory(), secret="")
    with pytest.raises(GraphAuthError):
        await g.request("t", GraphRequest("1", "GET", "/subscribedSkus"))
    await g.aclose()


async def test_batch_returns_per_item_throttling_and_refuses_oversize() -> None:
    d = Directory()
    d.faults.throttle_fraction = 0.5
    d.faults.retry_after_seconds = 4
    d.rng.seed(3)
    g = _client(d)
    out = await g.batch("t", [GraphRequest(str(i), "GET", "/subscribedSkus") for i in range(20)])
    assert len(out) == 20
    throttled = [r for r in out.values() if r.status == 429]
    assert throttled
    assert all(r.header("retry-after") == "4" for r in throttled)
    with pytest.raises(ValueError, match="20"):
        await g.batch("t", [GraphRequest(str(i), "GET", "/subscribedSkus") for i in range(21)])
    d.faults.throttle_fraction = 1.0
    plain = await g.request("t", GraphRequest("x", "GET", "/subscribedSkus"))
    assert plain.status == 429  # a plain call's throttling comes back as a response to retry
    assert plain.header("Retry-After") == "4"
    await g.aclose()
