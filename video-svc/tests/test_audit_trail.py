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
    trail = (await svc.client.get("/v1/audit", params={"limit": 500})).json()["items"]
    text = str(trail)
    assert created["password"] not in text
    assert created["url"].rsplit("/", 1)[-1] not in text
    assert {e["action"] for e in trail} >= {
        "video.uploaded",
        "video.commented",
        "video.link_created",
        "video.link_revoked",
    }
