"""video-svc through its real HTTP API, real PostgreSQL and a real nats-server -js (issue 6).

``svc`` is the ``Svc`` helper of conftest.py (a running service with its database and bus).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
from prisme_events import VideoLinkCreated, VideoLinkRevoked
from prisme_testing import factories
from prisme_testing.plugin import collect_events, publish_event
from prisme_video import retention, sharing


async def _login(viewer: Any, token_url: str, password: str) -> None:
    r = await viewer.post(token_url, data={"password": password})
    assert r.status_code == 303, r.text
    assert r.headers["location"] == token_url
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    assert "secure" not in cookie  # test mode is local: plain HTTP
    assert f"path={token_url.lower()}" in cookie


async def _every_row(svc: Any, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every row of ``path`` a page of ``limit`` at a time, following ``next_cursor``."""
    rows: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(50):
        asked = {**params, **({"cursor": cursor} if cursor else {})}
        r = await svc.client.get(path, params=asked)
        assert r.status_code == 200, r.text
        assert len(r.json()["items"]) <= params["limit"]
        rows += r.json()["items"]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return rows
    raise AssertionError(f"{path}: no last page")


def _path(url: str) -> str:
    return "/v/" + url.split("/v/", 1)[1]


async def test_upload_share_view_and_stream(svc: Any, video: Callable[..., bytes]) -> None:
    original = video(4.0, width=320, height=240, codec="mpeg4", noise=True)
    assert len(original) > 5 * svc.settings.chunk_size
    contract = await svc.activate()

    r = await svc.upload(contract, original)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["video_codec"] == "mpeg4"
    assert (body["width"], body["height"]) == (320, 240)
    assert float(body["duration_seconds"]) == 4.0
    assert body["size_bytes"] == len(original)
    assert body["uploaded_by"] == "op-alice"
    video_id = body["id"]

    # At rest: the object is ciphertext only, and no 64-byte window of the recording shows.
    stored = (svc.settings.objects_dir() / video_id / "video").read_bytes()
    assert len(stored) > len(original)
    for offset in range(0, len(original) - 64, len(original) // 50):
        assert original[offset : offset + 64] not in stored

    poster = await svc.client.get(f"/v1/videos/{video_id}/poster")
    assert poster.status_code == 200
    assert poster.content.startswith(b"\xff\xd8")

    link = await svc.share(video_id)
    assert link["status"] == "active"
    assert link["expires_at"].startswith(contract.ends_at.isoformat()[:19])
    path = _path(link["url"])

    async with svc.viewer() as anonymous:
        page = await anonymous.get(path)
        assert page.status_code == 200
        assert "Mot de passe" in page.text
        assert "<video" not in page.text
        assert page.headers["referrer-policy"] == "no-referrer"
        denied = await anonymous.get(f"{path}/stream")
        assert denied.status_code == 401
        assert (await anonymous.get(f"{path}/poster")).status_code == 401
        wrong = await anonymous.post(path, data={"password": "pas-le-bon"})
        assert wrong.status_code == 401
        assert "Mot de passe incorrect" in wrong.text

    async with svc.viewer() as viewer:
        await _login(viewer, path, link["password"])
        player = await viewer.get(path)
        assert player.status_code == 200
        assert '<video controls preload="metadata" src="' in player.text
        assert "Intervention poste 3" in player.text
        assert f'poster="{path}/poster"' in player.text
        image = await viewer.get(f"{path}/poster")
        assert image.status_code == 200
        assert image.content == poster.content

        full = await viewer.get(f"{path}/stream")
        assert full.status_code == 200
        assert full.headers["accept-ranges"] == "bytes"
        assert full.headers["content-type"] == "video/mp4"
        assert full.content == original

        rng = random.Random(6)
        size = len(original)
        for _ in range(25):
            start = rng.randrange(size)
            end = rng.randrange(start, min(size, start + 3 * svc.settings.chunk_size))
            part = await viewer.get(f"{path}/stream", headers={"Range": f"bytes={start}-{end}"})
            assert part.status_code == 206
            assert part.headers["content-range"] == f"bytes {start}-{end}/{size}"
            assert part.content == original[start : end + 1]
        tail = await viewer.get(f"{path}/stream", headers={"Range": "bytes=-1000"})
        assert tail.status_code == 206
        assert tail.content == original[-1000:]
        beyond = await viewer.get(f"{path}/stream", headers={"Range": f"bytes={size}-"})
        assert beyond.status_code == 416
        assert beyond.headers["content-range"] == f"bytes */{size}"

    # V4: every view is in the access log, with the bytes served.
    # The stream's row is written as its response completes.
    await svc.wait_until(
        "SELECT true FROM access_log WHERE event = 'stream' AND status = 200 AND link_id = $1",
        uuid.UUID(link["id"]),
    )
    log = await svc.client.get("/v1/access-log", params={"link_id": link["id"]})
    assert log.status_code == 200
    events = [e["event"] for e in log.json()["items"]]
    assert {"page", "login_failed", "login_ok", "stream", "denied"} <= set(events)
    paged = await _every_row(svc, "/v1/access-log", link_id=link["id"], limit=2)
    assert [e["id"] for e in paged] == [e["id"] for e in log.json()["items"]]
    assert len(paged) > 2
    streams = [e for e in log.json()["items"] if e["event"] == "stream" and e["status"] == 200]
    assert streams[0]["bytes_served"] == len(original)
    assert all(e["address"] == "127.0.0.1" for e in log.json()["items"])

    created = await collect_events(svc.nats_url, "video.link_created", 1)
    assert isinstance(created[0], VideoLinkCreated)
    assert str(created[0].link_id) == link["id"]


async def test_comments_are_timestamped_within_the_video(svc: Any, small_mp4: bytes) -> None:
    contract = await svc.activate()
    video_id = (await svc.upload(contract, small_mp4)).json()["id"]
    ok = await svc.client.post(
        f"/v1/videos/{video_id}/comments", json={"at_seconds": "1.5", "text": "Mise à jour pilote"}
    )
    assert ok.status_code == 201, ok.text
    late = await svc.client.post(
        f"/v1/videos/{video_id}/comments", json={"at_seconds": "99", "text": "après la fin"}
    )
    assert late.status_code == 422
    assert late.headers["content-type"] == "application/problem+json"
    got = (await svc.client.get(f"/v1/videos/{video_id}")).json()
    assert [(c["at_seconds"], c["text"]) for c in got["comments"]] == [
        ("1.500", "Mise à jour pilote")
    ]
    listed = await svc.client.get("/v1/videos", params={"client_id": str(contract.client_id)})
    assert [v["id"] for v in listed.json()["items"]] == [video_id]
    for at in ("0.5", "1.5", "2", "0.25"):  # 5 comments in all, paged 2 at a time
        r = await svc.client.post(
            f"/v1/videos/{video_id}/comments", json={"at_seconds": at, "text": f"à {at} s"}
        )
        assert r.status_code == 201, r.text
    paged = await _every_row(svc, f"/v1/videos/{video_id}/comments", limit=2)
    assert [c["at_seconds"] for c in paged] == ["0.250", "0.500", "1.500", "1.500", "2.000"]
    assert len({c["id"] for c in paged}) == 5
    # more recordings than a page: newest first, each once
    second = (await svc.upload(contract, small_mp4)).json()["id"]
    third = (await svc.upload(contract, small_mp4)).json()["id"]
    paged = await _every_row(svc, "/v1/videos", client_id=str(contract.client_id), limit=2)
    assert [v["id"] for v in paged] == [third, second, video_id]
    for path in ("/v1/videos", f"/v1/videos/{video_id}/comments", "/v1/links", "/v1/access-log"):
        r = await svc.client.get(path, params={"cursor": "pas-un-curseur"})
        assert r.status_code == 422, (path, r.text)
        assert r.json()["type"].endswith("invalid-cursor")


async def test_non_video_upload_is_refused_and_leaves_nothing(svc: Any) -> None:
    contract = await svc.activate()
    r = await svc.upload(contract, b"%PDF-1.7 ceci n'est pas une video\n" * 500)
    assert r.status_code == 415
    assert r.headers["content-type"] == "application/problem+json"
    assert "pas une vidéo" in r.json()["detail"]
    assert await svc.fetchval("SELECT count(*) FROM videos") == 0
    objects = svc.settings.objects_dir()
    assert not objects.exists() or not any(p.is_file() for p in objects.rglob("*"))


async def test_bad_upload_forms_are_refused(svc: Any, small_mp4: bytes) -> None:
    missing = await svc.client.post(
        "/v1/videos", data={"title": "x"}, files={"file": ("a.mp4", small_mp4, "video/mp4")}
    )
    assert missing.status_code == 422
    fields = {e["field"] for e in missing.json()["errors"]}
    assert fields == {"client_id", "contract_id"}
    not_multipart = await svc.client.post("/v1/videos", json={"title": "x"})
    assert not_multipart.status_code == 422
    no_auth = await svc.viewer().post("/v1/videos", data={"title": "x"})
    assert no_auth.status_code == 401
    assert await svc.fetchval("SELECT count(*) FROM videos") == 0


async def test_behind_a_trusted_proxy_one_guesser_slows_only_itself(
    run_video: Any, small_mp4: bytes
) -> None:
    async with run_video(throttle_base_delay_seconds=30, trusted_proxies=["127.0.0.0/8"]) as svc:
        contract = await svc.activate()
        link = await svc.share((await svc.upload(contract, small_mp4)).json()["id"])
        path = _path(link["url"])
        guesser = {"X-Forwarded-For": "203.0.113.7"}
        async with svc.viewer() as viewer:
            for attempt in range(3):  # the first typos are free
                r = await viewer.post(path, data={"password": f"e{attempt}"}, headers=guesser)
                assert r.status_code == 401
            r = await viewer.post(path, data={"password": link["password"]}, headers=guesser)
            assert r.status_code == 429
            assert 25 <= int(r.headers["retry-after"]) <= 30
            assert "set-cookie" not in r.headers
            # a colleague behind the same proxy is not held back by the guesser
            colleague = {"X-Forwarded-For": "198.51.100.20"}
            r = await viewer.post(path, data={"password": link["password"]}, headers=colleague)
            assert r.status_code == 303
        logged = await svc.fetchval(
            "SELECT string_agg(DISTINCT address, ',' ORDER BY address) FROM access_log"
            " WHERE event LIKE 'login%'"
        )
        assert logged == "198.51.100.20,203.0.113.7"


async def test_a_forwarded_header_from_an_untrusted_peer_is_ignored(
    run_video: Any, small_mp4: bytes
) -> None:
    async with run_video(throttle_base_delay_seconds=30) as svc:  # no trusted proxy
        contract = await svc.activate()
        link = await svc.share((await svc.upload(contract, small_mp4)).json()["id"])
        path = _path(link["url"])
        async with svc.viewer() as viewer:
            for attempt in range(3):
                forged = {"X-Forwarded-For": f"192.0.2.{attempt}"}  # a new "address" each time
                r = await viewer.post(path, data={"password": f"e{attempt}"}, headers=forged)
                assert r.status_code == 401
            r = await viewer.post(
                path, data={"password": link["password"]}, headers={"X-Forwarded-For": "192.0.2.9"}
            )
            assert r.status_code == 429  # still the same client: the TCP peer
        assert await svc.fetchval("SELECT count(DISTINCT address) FROM access_log") == 1


async def test_many_failures_never_lock_the_link(run_video: Any, small_mp4: bytes) -> None:
    async with run_video(throttle_base_delay_seconds=30, trusted_proxies=["127.0.0.0/8"]) as svc:
        contract = await svc.activate()
        link = await svc.share((await svc.upload(contract, small_mp4)).json()["id"])
        path = _path(link["url"])
        async with svc.viewer() as viewer:
            # 40 guesses from 40 addresses: past the link's free failures every visitor waits,
            # 30 s at most, and nothing says the link is shut
            statuses = []
            for n in range(40):
                headers = {"X-Forwarded-For": f"192.0.2.{n + 1}"}
                r = await viewer.post(path, data={"password": "non"}, headers=headers)
                statuses.append(r.status_code)
                if r.status_code == 429:
                    assert 0 < int(r.headers["retry-after"]) <= 30
                    assert "Patientez" in r.text
            assert statuses[:11] == [401] * 11
            assert set(statuses[11:]) == {429}
            svc.shift_clock(timedelta(seconds=31))
            headers = {"X-Forwarded-For": "198.51.100.20"}
            r = await viewer.post(path, data={"password": link["password"]}, headers=headers)
            assert r.status_code == 303, r.text


async def test_growing_delay_between_failures(run_video: Any, small_mp4: bytes) -> None:
    async with run_video(throttle_base_delay_seconds=30) as svc:
        contract = await svc.activate()
        link = await svc.share((await svc.upload(contract, small_mp4)).json()["id"])
        path = _path(link["url"])
        async with svc.viewer() as viewer:
            for _ in range(3):  # the first typos are free
                assert (await viewer.post(path, data={"password": "x"})).status_code == 401
            r = await viewer.post(path, data={"password": link["password"]})
            assert r.status_code == 429
            assert "Patientez" in r.text
            assert 25 <= int(r.headers["retry-after"]) <= 30


async def test_contract_end_revokes_every_link_within_a_second(svc: Any, small_mp4: bytes) -> None:
    contract = await svc.activate()
    other_contract = await svc.activate(contract.client_id)
    video_id = (await svc.upload(contract, small_mp4)).json()["id"]
    kept_video = (await svc.upload(other_contract, small_mp4)).json()["id"]
    links = [await svc.share(video_id) for _ in range(3)]
    kept = await svc.share(kept_video)
    stream = f"{_path(links[0]['url'])}/stream"
    async with svc.viewer() as viewer:
        await _login(viewer, _path(links[0]["url"]), links[0]["password"])
        assert (await viewer.get(stream, headers={"Range": "bytes=0-9"})).status_code == 206

        await svc.end(contract)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 1.0
        while (await viewer.get(stream, headers={"Range": "bytes=0-9"})).status_code != 410:
            assert loop.time() < deadline, "link still served more than 1 s after contract.ended"
            await asyncio.sleep(0.02)

        gone = await viewer.get(stream)
        assert gone.status_code == 410
        assert gone.content.startswith(b"{")  # a problem, never a byte of the video
        assert (await viewer.get(_path(links[0]["url"]))).status_code == 410
        assert (await viewer.get(f"{_path(links[0]['url'])}/poster")).status_code == 410
    for link in links:
        async with svc.viewer() as anonymous:
            page = await anonymous.get(_path(link["url"]))
            assert page.status_code == 410
            assert "n'est plus valable" in page.text
            post = await anonymous.post(_path(link["url"]), data={"password": link["password"]})
            assert post.status_code == 410

    listed = (
        await svc.client.get("/v1/links", params={"client_id": str(contract.client_id)})
    ).json()["items"]
    paged = await _every_row(svc, "/v1/links", client_id=str(contract.client_id), limit=1)
    assert [x["id"] for x in paged] == [x["id"] for x in listed]  # newest first, each once
    assert len(paged) > 1
    statuses = {item["id"]: item["status"] for item in listed}
    assert {statuses[link["id"]] for link in links} == {"revoked"}
    assert statuses[kept["id"]] == "active"

    revoked = await collect_events(svc.nats_url, "video.link_revoked", 3)
    assert {str(e.link_id) for e in revoked} == {link["id"] for link in links}
    assert all(isinstance(e, VideoLinkRevoked) for e in revoked)

    refused = await svc.client.post(f"/v1/videos/{video_id}/links")
    assert refused.status_code == 409

    # Another contract.ended for the same contract (a replay) revokes nothing more.
    replay = await svc.end(contract)
    await svc.wait_processed(replay)
    await svc.wait_until("SELECT count(*) = 0 FROM outbox WHERE sent_at IS NULL")
    assert len(await collect_events(svc.nats_url, "video.link_revoked", 4, timeout=1.0)) == 3


async def test_a_batch_of_contract_ends_has_each_ends_effects_once(
    svc: Any, small_mp4: bytes
) -> None:
    """The set-based contract.ended handler (P2: the year-end's ends come a hundred at a time):
    in one batch, each contract's links die with its own end's reason and event, a second end
    of the same contract revokes nothing more, a contract never seen is kept ended, and the
    contract that goes on keeps its links."""
    ceasing, closing = await svc.activate(), await svc.activate()
    running = await svc.activate(ceasing.client_id)
    links: dict[uuid.UUID, set[str]] = {}
    for contract in (ceasing, closing, running):
        video_id = (await svc.upload(contract, small_mp4)).json()["id"]
        links[contract.contract_id] = {(await svc.share(video_id))["id"] for _ in range(2)}
    unseen = svc.make_activated(uuid.uuid4())
    ends = {
        ceasing.contract_id: factories.contract_ended(ceasing, version=2, reason="cessation"),
        closing.contract_id: factories.contract_ended(closing, version=2),
        unseen.contract_id: factories.contract_ended(unseen, version=3),
    }
    again = factories.contract_ended(ceasing, version=2)  # another end of it, a year_end one
    batch = [ends[ceasing.contract_id], ends[closing.contract_id], again, ends[unseen.contract_id]]

    async def apply() -> None:  # on the service's pool, as its consumer does
        async with svc.runtime.pool.acquire() as conn, conn.transaction():
            await sharing.contracts_ended(conn, batch)

    await apply()
    await apply()  # the whole batch redelivered: nothing more
    for contract_id, status in [
        (ceasing.contract_id, "ended:2"),
        (closing.contract_id, "ended:2"),
        (running.contract_id, "active:1"),
        (unseen.contract_id, "ended:3"),
    ]:
        assert (
            await svc.fetchval(
                "SELECT status || ':' || version FROM contracts WHERE contract_id = $1",
                contract_id,
            )
            == status
        )
    rows = await svc.runtime.pool.fetch("SELECT id::text, revoked_reason FROM links")
    reasons = {r["id"]: r["revoked_reason"] for r in rows}
    assert {reasons[i] for i in links[ceasing.contract_id]} == {"contract_ended:cessation"}
    assert {reasons[i] for i in links[closing.contract_id]} == {"contract_ended:year_end"}
    assert {reasons[i] for i in links[running.contract_id]} == {None}

    killed = links[ceasing.contract_id] | links[closing.contract_id]
    revoked = await collect_events(svc.nats_url, "video.link_revoked", len(killed) + 1, timeout=2)
    assert sorted(str(e.link_id) for e in revoked) == sorted(killed)
    audited = (
        await svc.client.get(
            "/v1/audit", params={"actor": "event:contract.ended", "action": "video.link_revoked"}
        )
    ).json()["items"]
    by_link = {r["target_id"]: r["request_id"] for r in audited}
    assert len(audited) == len(killed)
    for contract_id in (ceasing.contract_id, closing.contract_id):
        assert {by_link[i] for i in links[contract_id]} == {str(ends[contract_id].event_id)}


async def test_link_past_its_expiry_answers_410(svc: Any, small_mp4: bytes) -> None:
    contract = await svc.activate(ends_in=timedelta(days=30))
    link = await svc.share((await svc.upload(contract, small_mp4)).json()["id"])
    path = _path(link["url"])
    async with svc.viewer() as viewer:
        await _login(viewer, path, link["password"])
        assert (
            await viewer.get(f"{path}/stream", headers={"Range": "bytes=0-1"})
        ).status_code == 206
        svc.shift_clock(timedelta(days=31))
        assert (
            await viewer.get(f"{path}/stream", headers={"Range": "bytes=0-1"})
        ).status_code == 410
        assert (await viewer.get(path)).status_code == 410
    listed = (await svc.client.get("/v1/links", params={"video_id": link["video_id"]})).json()
    assert listed["items"][0]["status"] == "expired"


async def test_no_link_without_an_active_contract(svc: Any, small_mp4: bytes) -> None:
    unknown = await svc.upload_for(uuid.uuid4(), uuid.uuid4(), small_mp4)
    assert unknown.status_code == 201
    r = await svc.client.post(f"/v1/videos/{unknown.json()['id']}/links")
    assert r.status_code == 409
    assert "aucun contrat actif" in r.json()["detail"]


async def test_ended_seen_before_activated_stays_ended(svc: Any, small_mp4: bytes) -> None:
    activated = svc.make_activated(uuid.uuid4())
    await publish_event(svc.nats_url, svc.make_ended(activated, version=3))
    await svc.wait_contract(activated.contract_id, "ended")
    await publish_event(svc.nats_url, activated)
    video_id = (await svc.upload(activated, small_mp4)).json()["id"]
    await svc.wait_processed(activated)
    assert (
        await svc.fetchval(
            "SELECT status || ':' || version FROM contracts WHERE contract_id = $1",
            activated.contract_id,
        )
        == "ended:3"
    )
    r = await svc.client.post(f"/v1/videos/{video_id}/links")
    assert r.status_code == 409


async def test_retention_deletes_recordings_after_the_contract_ends(
    run_video: Any, small_mp4: bytes
) -> None:
    async with run_video(retention_days=30) as svc:
        contract = await svc.activate()
        video_id = (await svc.upload(contract, small_mp4)).json()["id"]
        await svc.end(contract)
        await svc.wait_contract(contract.contract_id, "ended")
        assert await retention.purge_once(svc.runtime) == 0
        svc.shift_clock(timedelta(days=30, minutes=1))
        assert await retention.purge_once(svc.runtime) == 1
        assert not (svc.settings.objects_dir() / video_id / "video").exists()
        assert not (svc.settings.objects_dir() / video_id / "poster").exists()
        assert (await svc.client.get(f"/v1/videos/{video_id}")).status_code == 404
        assert await retention.purge_once(svc.runtime) == 0
        # O3: the purge has its row, by the retention worker
        rows = (await svc.client.get("/v1/audit", params={"action": "video.purged"})).json()
        assert [(r["target_id"], r["actor"]) for r in rows["items"]] == [
            (video_id, "system:video-retention")
        ]


async def test_revoking_a_link_stops_a_stream_in_flight(
    svc: Any, video: Callable[..., bytes]
) -> None:
    """V3: the stream re-checks its link while it runs; revocation cuts a long transfer."""
    original = video(6.0, width=1280, height=720, codec="mpeg4", noise=True)
    assert len(original) > 16 * 2**20
    contract = await svc.activate()
    link = await svc.share((await svc.upload(contract, original)).json()["id"])
    path = _path(link["url"])
    received = 0
    async with svc.viewer() as viewer:
        await _login(viewer, path, link["password"])
        with contextlib.suppress(httpx.RemoteProtocolError):
            async with viewer.stream("GET", f"{path}/stream") as response:
                assert response.status_code == 200
                async for piece in response.aiter_raw(65536):
                    if received == 0:
                        revoked = await svc.client.post(f"/v1/links/{link['id']}/revoke")
                        assert revoked.json()["status"] == "revoked"
                    received += len(piece)
    assert 0 < received < len(original)
    events = await collect_events(svc.nats_url, "video.link_revoked", 1)
    assert events[0].reason == "revoked_by:op-alice"


async def test_upload_over_the_limit_is_refused_and_leaves_nothing(
    run_video: Any, small_mp4: bytes
) -> None:
    async with run_video(max_upload_bytes=1000) as svc:
        contract = await svc.activate()
        r = await svc.upload(contract, small_mp4)
        assert r.status_code == 413
        assert r.headers["content-type"] == "application/problem+json"
        assert await svc.fetchval("SELECT count(*) FROM videos") == 0
        objects = svc.settings.objects_dir()
        assert not objects.exists() or not any(p.is_file() for p in objects.rglob("*"))


async def test_orphan_objects_of_killed_uploads_are_swept(svc: Any, small_mp4: bytes) -> None:
    contract = await svc.activate()
    video_id = (await svc.upload(contract, small_mp4)).json()["id"]
    objects = svc.settings.objects_dir()
    orphan, fresh = uuid.uuid4(), uuid.uuid4()
    for name in (f"{orphan}/video", f"{orphan}/video.part", f"{fresh}/video.part"):
        (objects / name).parent.mkdir(exist_ok=True)
        (objects / name).write_bytes(b"sealed bytes")
    old = time.time() - 25 * 3600
    for path in [*(objects / str(orphan)).iterdir(), *(objects / video_id).iterdir()]:
        os.utime(path, (old, old))
    assert await retention.sweep_once(svc.runtime) == 2
    assert not (objects / str(orphan)).exists()
    assert (objects / str(fresh) / "video.part").exists()  # maybe an upload in progress
    assert (objects / video_id / "video").exists()
    assert (objects / video_id / "poster").exists()
    assert await retention.sweep_once(svc.runtime) == 0
