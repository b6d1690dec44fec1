"""R2: schemathesis against video-svc's OpenAPI: no 5xx, responses as documented."""

from __future__ import annotations

from typing import Any

from prisme_testing.fuzz import fuzz_openapi


async def test_openapi_fuzzing_finds_no_server_error(svc: Any, small_mp4: bytes) -> None:
    contract = await svc.activate()
    video_id = (await svc.upload(contract, small_mp4)).json()["id"]
    await svc.share(video_id)
    failures = await fuzz_openapi(
        str(svc.client.base_url), dict(svc.client.headers), max_examples=5, every_check=True
    )
    assert failures == [], "\n".join(failures)
