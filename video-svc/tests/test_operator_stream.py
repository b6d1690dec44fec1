"""The operators' player: ``GET /v1/videos/{id}/stream`` streams the decrypted recording by its
id for a ``videos:read`` token, with HTTP Range (206, 416), and nothing for anyone else."""

from __future__ import annotations

from collections.abc import Callable

from .conftest import Svc


async def test_the_operator_streams_a_recording_with_ranges(
    svc: Svc, small_mp4: bytes, make_token: Callable[..., str]
) -> None:
    contract = await svc.activate()
    uploaded = await svc.upload(contract, small_mp4)
    assert uploaded.status_code == 201, uploaded.text
    video_id = uploaded.json()["id"]

    whole = await svc.client.get(f"/v1/videos/{video_id}/stream")
    assert whole.status_code == 200
    assert whole.content == small_mp4
    assert whole.headers["content-type"] == "video/mp4"
    assert whole.headers["accept-ranges"] == "bytes"

    part = await svc.client.get(f"/v1/videos/{video_id}/stream", headers={"Range": "bytes=10-19"})
    assert part.status_code == 206
    assert part.content == small_mp4[10:20]
    assert part.headers["content-range"] == f"bytes 10-19/{len(small_mp4)}"

    beyond = await svc.client.get(
        f"/v1/videos/{video_id}/stream", headers={"Range": f"bytes={len(small_mp4) + 5}-"}
    )
    assert beyond.status_code == 416

    billing_only = {"Authorization": f"Bearer {make_token(scopes=['billing:read'])}"}
    refused = await svc.client.get(f"/v1/videos/{video_id}/stream", headers=billing_only)
    assert refused.status_code == 403
    nobody = await svc.viewer().get(f"/v1/videos/{video_id}/stream")
    assert nobody.status_code == 401
