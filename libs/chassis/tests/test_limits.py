"""Body limits (DESIGN §7): refused before authentication and before the body is read."""

# no ``from __future__ import annotations``: FastAPI resolves the routes' local dependencies

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any

import pytest
from fastapi import Depends, FastAPI, File, Form, Request, UploadFile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prisme_chassis.errors import Unauthorized
from prisme_chassis.http import install_problem_handlers
from prisme_chassis.limits import (
    DEFAULT_BODY_LIMIT,
    MAX_FIELD_BYTES,
    MAX_PARTS,
    BodyLimitMiddleware,
    BodyLimits,
    MultipartInspector,
)
from pydantic import BaseModel

MiB = 1024 * 1024
CHUNK = 64 * 1024


class Item(BaseModel):
    name: str


@dataclass
class Calls:
    authenticated: int = 0
    handled: list[str] = field(default_factory=list)


def build(calls: Calls) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    def authenticate(request: Request) -> str:
        calls.authenticated += 1
        if request.headers.get("authorization") != "Bearer ok":
            raise Unauthorized()
        return "ok"

    @app.post("/items")
    async def create(item: Item, who: Annotated[str, Depends(authenticate)]) -> dict[str, str]:
        calls.handled.append("items")
        return {"name": item.name}

    @app.post("/public/raw")
    async def raw(request: Request) -> dict[str, int]:
        calls.handled.append("raw")
        return {"bytes": len(await request.body())}

    @app.post("/uploads")
    async def upload(
        title: Annotated[str, Form()], document: Annotated[UploadFile, File()]
    ) -> dict[str, int]:
        calls.handled.append("uploads")
        return {"bytes": len(await document.read())}

    app.add_middleware(BodyLimitMiddleware, limits=BodyLimits(routes={"POST /uploads": 12 * MiB}))
    return app


@dataclass
class Body:
    """An ASGI ``receive`` handing ``size`` bytes out in chunks; counts what was pulled."""

    chunks: Iterator[bytes]
    pulled: int = 0

    async def receive(self) -> dict[str, Any]:
        chunk = next(self.chunks, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        self.pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}


def zeros(size: int) -> Iterator[bytes]:
    sent = 0
    while sent < size:
        n = min(CHUNK, size - sent)
        sent += n
        yield b"0" * n


async def call(
    app: FastAPI,
    path: str,
    body: Body,
    headers: dict[str, str],
) -> tuple[int, dict[str, Any]]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    status = 0
    out = bytearray()

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            out.extend(message.get("body", b""))

    await app(scope, body.receive, send)
    return status, json.loads(out) if out else {}


def multipart(parts: list[tuple[str | None, str | None, bytes]]) -> tuple[bytes, str]:
    boundary = "xXxBoundaryxXx"
    out = bytearray()
    for name, filename, data in parts:
        disposition = "form-data"
        if name is not None:
            disposition += f'; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        out += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()
        out += data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


def pieces(data: bytes, size: int = CHUNK) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


async def test_a_declared_10_mib_body_is_refused_before_auth_and_unread() -> None:
    calls = Calls()
    body = Body(zeros(10 * MiB))
    status, problem = await call(
        build(calls),
        "/items",
        body,
        {"content-type": "application/json", "content-length": str(10 * MiB)},
    )
    assert status == 413
    assert problem["type"] == "https://prisme.example/problems/body-too-large"
    assert body.pulled == 0
    assert calls.authenticated == 0
    assert calls.handled == []


async def test_a_streamed_10_mib_body_stops_being_read_at_the_limit() -> None:
    calls = Calls()
    body = Body(zeros(10 * MiB))
    status, problem = await call(
        build(calls), "/public/raw", body, {"transfer-encoding": "chunked"}
    )
    assert status == 413
    assert problem["type"].endswith("/body-too-large")
    assert body.pulled <= DEFAULT_BODY_LIMIT + CHUNK


async def test_a_json_body_under_the_limit_reaches_auth_then_the_route() -> None:
    calls = Calls()
    data = json.dumps({"name": "x" * 1000}).encode()
    headers = {"content-type": "application/json", "content-length": str(len(data))}
    status, _ = await call(build(calls), "/items", Body(iter([data])), headers)
    assert status == 401
    assert calls.authenticated == 1
    status, body = await call(
        build(calls), "/items", Body(iter([data])), {**headers, "authorization": "Bearer ok"}
    )
    assert status == 200
    assert body == {"name": "x" * 1000}


async def test_a_route_with_its_own_cap_takes_a_bigger_upload() -> None:
    data, content_type = multipart([("title", None, b"t"), ("document", "a.pdf", b"%" * 10 * MiB)])
    calls = Calls()
    status, body = await call(
        build(calls),
        "/uploads",
        Body(pieces(data)),
        {"content-type": content_type, "content-length": str(len(data))},
    )
    assert status == 200
    assert body == {"bytes": 10 * MiB}
    # the same 10 MiB on a route with the default cap
    status, problem = await call(
        build(calls),
        "/public/raw",
        Body(pieces(data)),
        {"content-type": content_type, "content-length": str(len(data))},
    )
    assert status == 413
    assert problem["type"].endswith("/body-too-large")


@pytest.mark.parametrize(("count", "expected"), [(MAX_PARTS, 200), (MAX_PARTS + 1, 413)])
async def test_at_most_200_parts(count: int, expected: int) -> None:
    parts: list[tuple[str | None, str | None, bytes]] = [("title", None, b"t")]
    parts += [(f"f{i}", None, b"v") for i in range(count - 2)]
    parts.append(("document", "a.pdf", b"%PDF"))
    data, content_type = multipart(parts)
    calls = Calls()
    status, body = await call(
        build(calls),
        "/uploads",
        Body(pieces(data, 100)),
        {"content-type": content_type, "transfer-encoding": "chunked"},
    )
    assert status == expected, body
    if expected == 413:
        assert body["type"].endswith("/too-many-parts")
        assert calls.handled == []


def test_a_nameless_part_is_capped_like_a_field() -> None:
    data, _ = multipart([(None, None, b"x" * (MAX_FIELD_BYTES + 1))])
    inspector = MultipartInspector(
        b"xXxBoundaryxXx", max_parts=MAX_PARTS, max_field_bytes=MAX_FIELD_BYTES
    )
    errors = [inspector.feed(piece) for piece in pieces(data, 1000)]
    assert errors[0] is None
    assert errors[-1] is not None
    assert errors[-1].code == "form-field-too-large"


async def test_a_text_field_is_capped() -> None:
    data, content_type = multipart(
        [("title", None, b"x" * (MAX_FIELD_BYTES + 1)), ("document", "a.pdf", b"%PDF")]
    )
    calls = Calls()
    status, body = await call(
        build(calls),
        "/uploads",
        Body(pieces(data)),
        {"content-type": content_type, "content-length": str(len(data))},
    )
    assert status == 413
    assert body["type"].endswith("/form-field-too-large")
    assert calls.handled == []


async def test_oversized_part_headers_are_refused() -> None:
    boundary = "b0undary"
    data = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="title"\r\n'.encode()
        + b"X-Padding: "
        + b"p" * 10_000
        + b"\r\n\r\nv\r\n"
        + f"--{boundary}--\r\n".encode()
    )
    calls = Calls()
    status, body = await call(
        build(calls),
        "/uploads",
        Body(pieces(data)),
        {
            "content-type": f"multipart/form-data; boundary={boundary}",
            "content-length": str(len(data)),
        },
    )
    assert status == 413
    assert body["type"].endswith("/multipart-headers-too-large")


def test_unknown_route_in_body_limits_is_refused_at_build() -> None:
    from fastapi import APIRouter
    from prisme_chassis.app import _check_body_limits

    router = APIRouter()

    @router.post("/uploads/{kind}")
    async def upload() -> None:
        return None

    _check_body_limits([router], {"POST /uploads/{kind}": 1})
    with pytest.raises(ValueError, match="POST /upload"):
        _check_body_limits([router], {"POST /upload": 1})


def test_a_route_limit_matches_its_template_only() -> None:
    middleware = BodyLimitMiddleware(
        build(Calls()), limits=BodyLimits(routes={"POST /a/{id}/doc": 5})
    )
    assert middleware.limit_for({"method": "POST", "path": "/a/12/doc"}) == 5
    assert middleware.limit_for({"method": "PUT", "path": "/a/12/doc"}) == DEFAULT_BODY_LIMIT
    assert middleware.limit_for({"method": "POST", "path": "/a/12/doc/x"}) == DEFAULT_BODY_LIMIT
    assert middleware.limit_for({"method": "POST", "path": "/a/1/2/doc"}) == DEFAULT_BODY_LIMIT


_parts = st.lists(
    st.tuples(
        st.one_of(st.none(), st.text(max_size=20)),
        st.one_of(st.none(), st.text(max_size=20)),
        st.binary(max_size=300),
    ),
    max_size=8,
)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    parts=_parts,
    noise=st.binary(max_size=200),
    cut=st.integers(min_value=0, max_value=4000),
    chunk=st.integers(min_value=1, max_value=600),
    boundary=st.binary(min_size=1, max_size=80),
)
def test_the_inspector_never_raises(
    parts: list[tuple[str | None, str | None, bytes]],
    noise: bytes,
    cut: int,
    chunk: int,
    boundary: bytes,
) -> None:
    data, _ = multipart(
        [
            (
                n.replace('"', "") if n else n,
                f.replace('"', "") if f else f,
                d,
            )
            for n, f, d in parts
        ]
    )
    # a well-formed body, then cut, then noise: any byte sequence in any chunking
    data = data[: cut or len(data)] + noise
    inspector = MultipartInspector(
        boundary if cut % 3 == 0 else b"xXxBoundaryxXx", max_parts=3, max_field_bytes=100
    )
    for piece in pieces(data, chunk):
        error = inspector.feed(piece)
        assert error is None or error.status == 413
