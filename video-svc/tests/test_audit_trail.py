"""O3: every mutating route of video-svc writes its audit row (uploads, comments, links
created and revoked), and a link's URL and password are never in it (R5)."""

from __future__ import annotations

from typing import Any

import httpx
from prisme_testing.audit import Call, Example, assert_mutations_audited

NOT_AUDITED = {
    "POST /v/{token}": (
        "the public viewer: a practice's visitor (no operator, no token) enters the link "
        "password; every attempt is kept in the access log (GET /v1/access-log)"
    ),
}


async def test_every_mutating_route_writes_an_audit_row(svc: Any, small_mp4: bytes) -> None:
    async def video() -> str:
        contract = await svc.activate()
        r = await svc.upload(contract, small_mp4)
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    async def upload(_: httpx.AsyncClient) -> Call:
        contract = await svc.activate()
        return Call(
            "/v1/videos",
            data={
                "client_id": str(contract.client_id),
                "contract_id": str(contract.contract_id),
                "title": "Intervention poste 2",
            },
            files={"file": ("enregistrement.mp4", small_mp4, "video/mp4")},
        )

    async def comment(_: httpx.AsyncClient) -> Call:
        return Call(f"/v1/videos/{await video()}/comments", json={"at_seconds": 0, "text": "ici"})

    async def link(_: httpx.AsyncClient) -> Call:
        return Call(f"/v1/videos/{await video()}/links")

    async def revoke(_: httpx.AsyncClient) -> Call:
        created = await svc.share(await video())
        return Call(f"/v1/links/{created['id']}/revoke")

    examples: dict[str, Example] = {
        "POST /v1/videos": upload,
        "POST /v1/videos/{video_id}/comments": comment,
        "POST /v1/videos/{video_id}/links": link,
        "POST /v1/links/{link_id}/revoke": revoke,
    }
    report = await assert_mutations_audited(svc.client, examples, NOT_AUDITED, sub="op-alice")
    assert sorted(report.audited) == sorted(examples)

    created = await svc.share(await video())
    trail = (await svc.client.get("/v1/audit", params={"limit": 200})).json()["items"]
    text = str(trail)
    assert created["password"] not in text
    assert created["url"].rsplit("/", 1)[-1] not in text
    assert {e["action"] for e in trail} >= {
        "video.uploaded",
        "video.commented",
        "video.link_created",
        "video.link_revoked",
    }


async def test_links_killed_by_contract_ended_are_audited_by_the_event(
    svc: Any, small_mp4: bytes
) -> None:
    """O3 beyond the routes: contract.ended revokes every link of the contract, one row per
    link by the event (``event:contract.ended``, its id as request id); a replay adds none."""
    contract = await svc.activate()
    video_id = (await svc.upload(contract, small_mp4)).json()["id"]
    links = [await svc.share(video_id) for _ in range(2)]
    end = await svc.end(contract)
    await svc.wait_processed(end)

    async def by_event() -> list[dict[str, Any]]:
        page = await svc.client.get(
            "/v1/audit", params={"actor": "event:contract.ended", "action": "video.link_revoked"}
        )
        return list(page.json()["items"])

    rows = await by_event()
    assert sorted(r["target_id"] for r in rows) == sorted(link["id"] for link in links)
    assert {r["request_id"] for r in rows} == {str(end.event_id)}
    assert {r["client_id"] for r in rows} == {str(contract.client_id)}
    assert {r["reason"] for r in rows} == {f"contract_ended:{end.reason}"}
    assert all(
        "password" not in str(r) and link["url"] not in str(r) for r in rows for link in links
    )
    replay = await svc.end(contract)
    await svc.wait_processed(replay)
    assert len(await by_event()) == 2
