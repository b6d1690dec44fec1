"""Use cases of the public viewer (V3, V4): open a link, check a password, stream a range.

Every page, attempt and stream is written to the access log; the log's failed attempts are also
the throttling state, so it survives restarts and is shared by every replica.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar, Literal

import asyncpg
from prisme_chassis import clock

from . import errors
from . import repository as repo
from .context import VideoContext
from .credentials import hash_token
from .domain import LinkStatus, RangeNotSatisfiableError, link_status, parse_range, throttle
from .recordings import data_key, live_video
from .recordings import poster as recording_poster
from .repository import DB, Access, LinkRow, VideoRow
from .sealed_objects import stream_range

# Re-check the link while a long stream runs, so a revocation also stops a transfer in flight.
RECHECK_EVERY_CHUNKS = 32

#: headers of every video answer (viewer and operators' player)
STREAM_HEADERS = {
    "Accept-Ranges": "bytes",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
_MEDIA_TYPES = {
    "mov": "video/mp4",
    "mp4": "video/mp4",
    "webm": "video/webm",
    "matroska": "video/x-matroska",
    "avi": "video/x-msvideo",
    "ogg": "video/ogg",
    "mpegts": "video/mp2t",
    "flv": "video/x-flv",
}


def media_type(container: str) -> str:
    for name in container.split(","):
        if name in _MEDIA_TYPES:
            return _MEDIA_TYPES[name]
    return "application/octet-stream"


@dataclass(frozen=True)
class Visitor:
    address: str
    user_agent: str


@dataclass(frozen=True)
class Target:
    link: LinkRow
    video: VideoRow
    status: LinkStatus


async def find(conn: DB, ctx: VideoContext, token: str) -> Target:
    link = await repo.link_by_token_hash(conn, hash_token(token))
    if link is None:
        raise errors.LinkNotFound("lien inconnu")
    video = await repo.get_video(conn, link.video_id)
    assert video is not None  # links reference videos (foreign key)
    status = link_status(revoked_at=link.revoked_at, expires_at=link.expires_at, now=clock.now())
    if video.deleted_at is not None and status == "active":
        status = "expired"
    return Target(link, video, status)


async def _log(
    conn: DB,
    target: Target,
    visitor: Visitor,
    event: str,
    status: int,
    **extra: int | None,
) -> None:
    await repo.log_access(
        conn,
        Access(
            event=event,
            status=status,
            address=visitor.address,
            user_agent=visitor.user_agent,
            link_id=target.link.id,
            video_id=target.video.id,
            **extra,  # type: ignore[arg-type]
        ),
    )


async def open_page(
    conn: DB, ctx: VideoContext, token: str, visitor: Visitor, cookie: str | None
) -> tuple[Target, bool]:
    """The link's state for its page, and whether the visitor already has a session."""
    target = await find(conn, ctx, token)
    if target.status != "active":
        await _log(conn, target, visitor, "gone", 410)
        return target, False
    signed_in = ctx.cookies.valid_for(cookie, target.link.id, clock.now())
    await _log(conn, target, visitor, "page", 200)
    return target, signed_in


@dataclass(frozen=True)
class LoginOutcome:
    kind: Literal["ok", "wrong", "throttled", "gone"]
    target: Target
    cookie: str | None = None
    cookie_max_age: int = 0
    retry_after: timedelta = timedelta(0)

    http_status: ClassVar[dict[str, int]] = {
        "ok": 303,
        "wrong": 401,
        "throttled": 429,
        "gone": 410,
    }


async def login(
    conn: DB, ctx: VideoContext, token: str, password: str, visitor: Visitor
) -> LoginOutcome:
    """V4: check a password under throttling; the attempt is logged whatever the outcome."""
    target = await find(conn, ctx, token)
    if target.status != "active":
        await _log(conn, target, visitor, "gone", 410)
        return LoginOutcome("gone", target)
    await repo.lock_attempts(conn, target.link.id, visitor.address)
    now = clock.now()
    link, address = await repo.failure_stats(
        conn, target.link.id, visitor.address, now - ctx.policy.window
    )
    decision = throttle(ctx.policy, link, address, now)
    if not decision.allowed:
        await _log(conn, target, visitor, "throttled", 429)
        return LoginOutcome("throttled", target, retry_after=decision.retry_after)
    if not await asyncio.to_thread(ctx.hashing.verify, target.link.password_hash, password):
        await _log(conn, target, visitor, "login_failed", 401)
        return LoginOutcome("wrong", target)
    await _log(conn, target, visitor, "login_ok", 303)
    expires = min(now + timedelta(minutes=ctx.settings.session_minutes), target.link.expires_at)
    return LoginOutcome(
        "ok",
        target,
        cookie=ctx.cookies.issue(target.link.id, expires),
        cookie_max_age=max(int((expires - now).total_seconds()), 0),
    )


@dataclass(frozen=True)
class StreamPlan:
    status: int
    size: int
    start: int
    end: int
    container: str
    body: AsyncIterator[bytes]

    @property
    def length(self) -> int:
        return self.end - self.start + 1 if self.size else 0


_background: set[asyncio.Task[None]] = set()


def _detach(coro: Coroutine[Any, Any, None]) -> None:
    # The access-log write of a stream must survive the client hanging up (which cancels the
    # response task), so it runs as its own task.
    task = asyncio.get_running_loop().create_task(coro)
    _background.add(task)
    task.add_done_callback(_background.discard)


async def _authorised(
    pool: asyncpg.Pool, ctx: VideoContext, token: str, cookie: str | None, visitor: Visitor
) -> Target:
    target = await find(pool, ctx, token)
    if target.status != "active":
        await _log(pool, target, visitor, "gone", 410)
        raise errors.LinkGone("Ce lien a expiré ou a été révoqué.", link_status=target.status)
    if not ctx.cookies.valid_for(cookie, target.link.id, clock.now()):
        await _log(pool, target, visitor, "denied", 401)
        raise errors.SessionRequired("Saisissez le mot de passe du lien pour voir la vidéo.")
    return target


async def poster(
    pool: asyncpg.Pool, ctx: VideoContext, token: str, cookie: str | None, visitor: Visitor
) -> bytes:
    """The poster image for the player, under the same rules as the stream."""
    target = await _authorised(pool, ctx, token, cookie, visitor)
    return await recording_poster(ctx, target.video)


async def stream(
    pool: asyncpg.Pool,
    ctx: VideoContext,
    token: str,
    cookie: str | None,
    range_header: str | None,
    visitor: Visitor,
) -> StreamPlan:
    """V3: 410 before anything else once the link is dead, whatever cookie comes with it."""
    target = await _authorised(pool, ctx, token, cookie, visitor)
    size = target.video.size_bytes
    try:
        asked = parse_range(range_header, size)
    except RangeNotSatisfiableError as exc:
        await _log(pool, target, visitor, "stream", 416)
        raise errors.RangeNotSatisfiable(size) from exc
    start, end = asked if asked is not None else (0, size - 1)
    status = 206 if asked is not None else 200
    key = data_key(ctx, target.video)

    async def body() -> AsyncIterator[bytes]:
        sent, chunks = 0, 0
        try:
            async for piece in stream_range(ctx.store, target.video.video_ref, key, start, end):
                yield piece
                sent += len(piece)
                chunks += 1
                if chunks % RECHECK_EVERY_CHUNKS == 0 and not await _still_active(
                    pool, ctx, target.link.id
                ):
                    return
        finally:
            _detach(
                _log(
                    pool,
                    target,
                    visitor,
                    "stream",
                    status,
                    range_start=start,
                    range_end=end,
                    bytes_served=sent,
                )
            )

    return StreamPlan(status, size, start, end, target.video.container, body())


async def _still_active(pool: asyncpg.Pool, ctx: VideoContext, link_id: uuid.UUID) -> bool:
    async with pool.acquire() as conn:
        link = await repo.get_link(conn, link_id)
    now: datetime = clock.now()
    return (
        link is not None
        and link_status(revoked_at=link.revoked_at, expires_at=link.expires_at, now=now) == "active"
    )


async def operator_stream(
    pool: asyncpg.Pool, ctx: VideoContext, video_id: uuid.UUID, range_header: str | None
) -> StreamPlan:
    """The player of the operators (dashboard): the same Range streaming, by the video's id,
    for a ``videos:read`` token (no link, so nothing in a link's access log)."""
    async with pool.acquire() as conn:
        video = await live_video(conn, video_id)
    size = video.size_bytes
    try:
        asked = parse_range(range_header, size)
    except RangeNotSatisfiableError as exc:
        raise errors.RangeNotSatisfiable(size) from exc
    start, end = asked if asked is not None else (0, size - 1)
    body = stream_range(ctx.store, video.video_ref, data_key(ctx, video), start, end)
    return StreamPlan(206 if asked is not None else 200, size, start, end, video.container, body)
