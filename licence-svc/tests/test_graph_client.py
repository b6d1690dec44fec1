"""The Graph client against the sandbox over real HTTP (``graph``: a port of this loop)."""

from __future__ import annotations

from typing import Any

import pytest
from prisme_licence.graph import GraphAuthError, GraphClient, GraphRequest, GraphUnavailable
from prisme_localinfra import free_port


def _client(url: str, secret: str = "s3cret") -> GraphClient:  # noqa: S107
    return GraphClient(f"{url}/v1.0", url + "/{tenant}/oauth2/v2.0/token", "app", secret)


async def test_token_is_cached_per_tenant_and_renewed_when_refused(graph: Any) -> None:
    d = graph.directory
    g = _client(graph.url)
    skus = GraphRequest("1", "GET", "/subscribedSkus")
    for _ in range(3):
        assert (await g.request("tenant-a", skus)).status == 200
    assert (await g.request("tenant-b", skus)).status == 200
    assert g.token_requests == 2
    d.tokens.clear()  # tokens revoked or expired early on the server side
    assert (await g.request("tenant-a", skus)).status == 200
    assert g.token_requests == 3
    await g.aclose()


async def test_short_lived_tokens_are_refreshed_before_expiry(graph: Any) -> None:
    graph.directory.token_ttl = 30  # below the 60 s safety margin: never reused
    g = _client(graph.url)
    for _ in range(2):
        assert (await g.request("t", GraphRequest("1", "GET", "/subscribedSkus"))).status == 200
    assert g.token_requests == 2
    await g.aclose()


async def test_bad_client_secret_is_an_auth_error(graph: Any) -> None:
    g = _client(graph.url, secret="")
    with pytest.raises(GraphAuthError):
        await g.request("t", GraphRequest("1", "GET", "/subscribedSkus"))
    await g.aclose()


async def test_a_graph_out_of_reach_is_unavailable_not_a_crash() -> None:
    """Nothing listens: the jobs are retried later (L4), the error says what happened."""
    g = _client(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(GraphUnavailable, match="unreachable"):
        await g.batch("t", [GraphRequest("1", "GET", "/subscribedSkus")])
    await g.aclose()


async def test_batch_returns_per_item_throttling_and_refuses_oversize(graph: Any) -> None:
    d = graph.directory
    d.faults.throttle_fraction = 0.5
    d.faults.retry_after_seconds = 4
    d.rng.seed(3)
    g = _client(graph.url)
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
