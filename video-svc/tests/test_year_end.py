"""``GET /v1/year-end/{year}``: the links of a year's ended contracts, revoked by that end
(V3) or still live, for the dashboard's year-end progress (issue 12)."""

from __future__ import annotations

from typing import Any


async def _effects(svc: Any, year: int) -> dict[str, Any]:
    r = await svc.client.get(f"/v1/year-end/{year}")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_counts_the_links_the_years_ended_contracts_took_down(
    svc: Any, small_mp4: bytes, make_token: Any
) -> None:
    ending = await svc.activate()
    running = await svc.activate(ending.client_id)
    year = ending.year
    shared = (await svc.upload(ending, small_mp4)).json()["id"]
    links = [await svc.share(shared) for _ in range(3)]
    kept = (await svc.upload(running, small_mp4)).json()["id"]
    await svc.share(kept)
    # revoked by an operator before the end: not one the end took down
    assert (await svc.client.post(f"/v1/links/{links[0]['id']}/revoke")).status_code == 200
    nothing = {"year": year, "unit": "links", "contracts_ended": 0, "done": 0, "remaining": 0}
    assert await _effects(svc, year) == nothing | {"failed": 0}

    await svc.wait_processed(await svc.end(ending))
    assert await _effects(svc, year) == nothing | {
        "contracts_ended": 1,
        "done": 2,
        "failed": 0,
    }
    assert await _effects(svc, year - 1) == nothing | {"year": year - 1, "failed": 0}
    # the year is in video-svc's own contracts, from the events
    assert (
        await svc.fetchval("SELECT year FROM contracts WHERE contract_id = $1", ending.contract_id)
        == year
    )

    for bad in ("1999", "10000", "deux-mille"):
        r = await svc.client.get(f"/v1/year-end/{bad}")
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
    other = {"Authorization": f"Bearer {make_token(scopes=('billing:read',))}"}
    assert (await svc.client.get(f"/v1/year-end/{year}", headers=other)).status_code == 403
