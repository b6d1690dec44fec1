"""Body limits on the running video-svc (DESIGN §7): the public viewer and the upload."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prisme_testing.raw_http import answer_to_headers
from prisme_video.multipart import MalformedFormError, TooLargeError, read_form

MiB = 1024 * 1024


async def _streamed(size: int, sent: list[int], prefix: str = "") -> AsyncIterator[bytes]:
    yield prefix.encode()
    chunk = b"p" * (64 * 1024)
    while sent[0] < size:
        sent[0] += len(chunk)
        yield chunk


async def _headers_only(base_url: str, path: str, length: int) -> bytes:
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Content-Length": str(length)}
    return await answer_to_headers(base_url, "POST", path, headers)


async def test_10_mib_to_the_viewer_login_is_refused_unread(svc: Any, small_mp4: bytes) -> None:
    contract = await svc.activate()
    video_id = (await svc.upload(contract, small_mp4)).json()["id"]
    link = await svc.share(video_id)
    path = urlsplit(link["url"]).path
    # 10 MiB announced, not one byte sent: the answer comes at once
    head = await _headers_only(str(svc.client.base_url), path, 10 * MiB)
    assert head.startswith(b"HTTP/1.1 413 ")
    assert b"application/problem+json" in head
    # streamed without a length: refused at the first chunk past 1 MiB
    async with svc.viewer() as viewer:
        resp = await viewer.post(
            path,
            content=_streamed(MiB + 64 * 1024, [0], prefix=f"password={link['password']}&p="),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert resp.status_code == 413
        assert resp.json()["type"] == "https://prisme.example/problems/body-too-large"
    # neither reached the password check (each attempt is in the access log)
    assert await svc.fetchval("SELECT count(*) FROM access_log WHERE event LIKE 'login%'") == 0


async def test_an_upload_over_its_route_limit_is_refused_before_auth(svc: Any) -> None:
    limit = svc.settings.max_upload_bytes + MiB
    head = await _headers_only(str(svc.client.base_url), "/v1/videos", limit + 1)
    assert head.startswith(b"HTTP/1.1 413 ")  # not 401: the limit comes before the token
    head = await _headers_only(str(svc.client.base_url), "/v1/videos", limit)
    assert head.startswith(b"HTTP/1.1 401 ")  # within the upload's own cap: on to the token


async def test_a_201_part_upload_is_refused(svc: Any) -> None:
    contract = await svc.activate()
    files = [("file", ("a.mp4", b"\x00" * 10, "video/mp4"))]
    data = {f"extra{i}": "v" for i in range(198)}
    data |= {"client_id": str(contract.client_id), "contract_id": str(contract.contract_id)}
    data["title"] = "t"  # 201 parts with the file
    resp = await svc.client.post("/v1/videos", data=data, files=files)
    assert resp.status_code == 413
    assert resp.json()["type"].endswith("/too-many-parts")
    assert await svc.fetchval("SELECT count(*) FROM videos") == 0


class _Sink:
    def __init__(self) -> None:
        self.bytes = 0

    async def write(self, data: bytes) -> None:
        self.bytes += len(data)


async def _chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


_part = st.tuples(
    st.sampled_from([b"file", b"title", b"", b"client_id", b"\xff"]),
    st.one_of(st.none(), st.binary(max_size=12)),
    st.binary(max_size=200),
)


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    parts=st.lists(_part, max_size=6),
    tail=st.binary(max_size=64),
    cut=st.integers(min_value=0, max_value=2000),
    chunk=st.integers(min_value=1, max_value=500),
    extra_headers=st.lists(st.binary(max_size=40), max_size=3),
)
def test_the_upload_parser_raises_only_its_own_errors(
    parts: list[tuple[bytes, bytes | None, bytes]],
    tail: bytes,
    cut: int,
    chunk: int,
    extra_headers: list[bytes],
) -> None:
    body = bytearray()
    for name, filename, data in parts:
        disposition = b'form-data; name="' + name + b'"'
        if filename is not None:
            disposition += b'; filename="' + filename + b'"'
        body += b"--B\r\nContent-Disposition: " + disposition + b"\r\n"
        for header in extra_headers:
            body += b"X-" + header + b"\r\n"
        body += b"\r\n" + data + b"\r\n"
    body += b"--B--\r\n"
    raw = bytes(body[: cut or len(body)]) + tail
    sink = _Sink()

    async def open_sink() -> _Sink:
        return sink

    async def parse() -> None:
        try:
            form = await read_form(
                _chunks(raw, chunk),
                "multipart/form-data; boundary=B",
                file_field="file",
                open_sink=open_sink,
                max_file_bytes=300,
            )
        except (MalformedFormError, TooLargeError):
            return
        assert form.file_bytes == sink.bytes <= 300
        assert all(len(v) <= 64 * 1024 for v in form.fields.values())

    import asyncio  # hypothesis drives a sync test: one event loop per example

    asyncio.run(parse())


@pytest.mark.parametrize("content_type", [None, "text/plain", "multipart/form-data"])
async def test_a_form_that_is_not_multipart_is_malformed(content_type: str | None) -> None:
    async def open_sink() -> _Sink:
        return _Sink()

    with pytest.raises(MalformedFormError):
        await read_form(
            _chunks(b"x", 1), content_type, file_field="file", open_sink=open_sink,
            max_file_bytes=10,
        )  # fmt: skip
