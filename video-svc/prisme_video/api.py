"""Authenticated routes of video-svc (DESIGN §4) and their request/response schemas."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from http import HTTPStatus
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from prisme_chassis import audit, clock
from prisme_chassis.app import Read, Tx
from prisme_chassis.auth import Principal, require_scopes
from prisme_chassis.db import transaction
from prisme_chassis.errors import problems
from prisme_chassis.year_end import YearEndEffects, YearPath
from pydantic import AfterValidator, BaseModel, Field, WithJsonSchema

from . import errors, recordings, sharing, viewing
from . import repository as repo
from .context import VideoRuntimeDep
from .multipart import MalformedFormError, TooLargeError, read_form
from .repository import LinkRow, VideoRow
from .viewing import STREAM_HEADERS, media_type


def status_problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the RFC 9457 problems a route may answer."""
    return {
        status: {
            "description": HTTPStatus(status).phrase,
            "content": {"application/problem+json": {"schema": {"type": "object"}}},
        }
        for status in statuses
    }


router = APIRouter(tags=["videos"], responses=status_problems(401, 403, 422))


def _to_millisecond(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)


#: A moment of the recording, to the millisecond: a number or a decimal string, rounded (a
#: float such as 0.5700000000000001 is the client's 0.57, not a refusal).
AtSeconds = Annotated[
    Decimal,
    Field(ge=0, le=10**8, allow_inf_nan=False),
    AfterValidator(_to_millisecond),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0, "maximum": 10**8},
                {"type": "string", "pattern": r"^(100000000(\.0+)?|[0-9]{1,8}(\.[0-9]+)?)$"},
            ]
        }
    ),
]


class CommentIn(BaseModel):
    at_seconds: AtSeconds
    text: str = Field(min_length=1, max_length=4000)


class CommentOut(BaseModel):
    id: uuid.UUID
    video_id: uuid.UUID
    at_seconds: Decimal
    text: str
    author: str
    created_at: datetime


class VideoOut(BaseModel):
    id: uuid.UUID
    client_id: uuid.UUID
    contract_id: uuid.UUID
    title: str
    container: str
    video_codec: str
    width: int
    height: int
    duration_seconds: Decimal
    size_bytes: int
    uploaded_by: str
    uploaded_at: datetime
    comments: list[CommentOut] = Field(default_factory=list)

    @classmethod
    def of(cls, video: VideoRow, comments: list[Any] | None = None) -> VideoOut:
        return cls(
            id=video.id,
            client_id=video.client_id,
            contract_id=video.contract_id,
            title=video.title,
            container=video.container,
            video_codec=video.video_codec,
            width=video.width,
            height=video.height,
            duration_seconds=video.duration_seconds,
            size_bytes=video.size_bytes,
            uploaded_by=video.uploaded_by,
            uploaded_at=video.uploaded_at,
            comments=[CommentOut(**dict(c)) for c in comments or []],
        )


class LinkOut(BaseModel):
    id: uuid.UUID
    video_id: uuid.UUID
    client_id: uuid.UUID
    contract_id: uuid.UUID
    expires_at: datetime
    status: Literal["active", "expired", "revoked"]
    created_by: str
    created_at: datetime
    revoked_at: datetime | None
    revoked_reason: str | None

    @classmethod
    def of(cls, link: LinkRow, now: datetime) -> LinkOut:
        return cls(
            id=link.id,
            video_id=link.video_id,
            client_id=link.client_id,
            contract_id=link.contract_id,
            expires_at=link.expires_at,
            status=sharing.status_of(link, now),
            created_by=link.created_by,
            created_at=link.created_at,
            revoked_at=link.revoked_at,
            revoked_reason=link.revoked_reason,
        )


class NewLinkOut(LinkOut):
    url: str = Field(description="The share link; shown once, only its hash is kept")
    password: str = Field(description="The link's password; shown once, only its hash is kept")


class AccessOut(BaseModel):
    id: int
    at: datetime
    link_id: uuid.UUID | None
    video_id: uuid.UUID | None
    address: str
    user_agent: str
    event: str
    status: int
    range_start: int | None
    range_end: int | None
    bytes_served: int


_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["client_id", "contract_id", "title", "file"],
                    "properties": {
                        "client_id": {"type": "string", "format": "uuid"},
                        "contract_id": {"type": "string", "format": "uuid"},
                        "title": {"type": "string", "maxLength": 200},
                        "file": {"type": "string", "format": "binary"},
                    },
                }
            }
        },
    }
}


@router.post(
    "/v1/videos",
    status_code=201,
    openapi_extra=_UPLOAD_BODY,
    responses=problems(
        errors.UploadTooLarge,
        errors.NotAVideo,
        errors.MalformedUpload,
        errors.ContractOfAnotherClient,
    ),
)
async def upload_video(
    request: Request,
    rt: VideoRuntimeDep,
    actor: audit.ActorDep,
    who: Principal = require_scopes("videos:write"),
) -> VideoOut:
    """V1: stream a recording to encrypted storage, check it is a video, record it.

    No transaction is held while the file arrives; the row is written once the file is stored
    and probed, and the object is deleted if anything fails before that commit.
    """
    ctx = rt.context
    upload = recordings.RecordingUpload(ctx)

    async def open_sink() -> recordings.RecordingUpload:
        return upload

    try:
        form = await read_form(
            request.stream(),
            request.headers.get("content-type"),
            file_field="file",
            open_sink=open_sink,
            max_file_bytes=ctx.settings.max_upload_bytes,
        )
        fields = recordings.parse_upload_form(form.fields, form.has_file)
        recording = await upload.seal()
        async with transaction(rt.pool) as conn:
            video = await recordings.record_video(conn, ctx, fields, recording, who.sub)
            out = VideoOut.of(video)
            await audit.record(
                conn,
                actor,
                "video.uploaded",
                target_type="video",
                target_id=out.id,
                client_id=out.client_id,
                after=out.model_dump(
                    mode="json", include={"contract_id", "title", "container", "size_bytes"}
                ),
            )
    except MalformedFormError as exc:
        await upload.discard()
        raise errors.MalformedUpload(exc.reason) from exc
    except TooLargeError as exc:
        await upload.discard()
        raise errors.UploadTooLarge(
            f"fichier limité à {ctx.settings.max_upload_bytes} octets"
        ) from exc
    except BaseException:
        await upload.discard()
        raise
    return VideoOut.of(video)


@router.get("/v1/videos")
async def list_videos(
    conn: Tx,
    client_id: uuid.UUID | None = None,
    contract_id: uuid.UUID | None = None,
    who: Principal = require_scopes("videos:read"),
) -> list[VideoOut]:
    return [VideoOut.of(v) for v in await repo.list_videos(conn, client_id, contract_id)]


@router.get("/v1/videos/{video_id}", responses=problems(errors.VideoNotFound))
async def get_video(
    video_id: uuid.UUID, conn: Tx, who: Principal = require_scopes("videos:read")
) -> VideoOut:
    video = await recordings.live_video(conn, video_id)
    return VideoOut.of(video, await repo.list_comments(conn, video_id))


@router.get(
    "/v1/videos/{video_id}/poster",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}, **problems(errors.VideoNotFound)},
)
async def get_poster(
    video_id: uuid.UUID,
    conn: Tx,
    rt: VideoRuntimeDep,
    who: Principal = require_scopes("videos:read"),
) -> Response:
    video = await recordings.live_video(conn, video_id)
    image = await recordings.poster(rt.context, video)
    return Response(image, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


@router.get(
    "/v1/videos/{video_id}/stream",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"video/mp4": {}}},
        206: {"content": {"video/mp4": {}}},
        **problems(errors.VideoNotFound, errors.RangeNotSatisfiable),
    },
)
async def operator_stream(
    video_id: uuid.UUID,
    request: Request,
    rt: VideoRuntimeDep,
    who: Principal = require_scopes("videos:read"),
) -> Response:
    """The operators' player (the dashboard): HTTP Range streaming (206/416) by the video's
    id, decrypted chunk by chunk in constant memory."""
    plan = await viewing.operator_stream(
        rt.pool, rt.context, video_id, request.headers.get("range")
    )
    headers = {**STREAM_HEADERS, "Content-Length": str(plan.length)}
    if plan.status == 206:
        headers["Content-Range"] = f"bytes {plan.start}-{plan.end}/{plan.size}"
    return StreamingResponse(
        plan.body, status_code=plan.status, headers=headers, media_type=media_type(plan.container)
    )


@router.post(
    "/v1/videos/{video_id}/comments",
    status_code=201,
    responses=problems(errors.VideoNotFound, errors.CommentBeyondEnd),
)
async def add_comment(
    video_id: uuid.UUID,
    body: CommentIn,
    conn: Tx,
    actor: audit.ActorDep,
    who: Principal = require_scopes("videos:write"),
) -> CommentOut:
    row = await recordings.add_comment(conn, video_id, body.at_seconds, body.text, who.sub)
    comment = CommentOut(**dict(row))
    await audit.record(
        conn,
        actor,
        "video.commented",
        target_type="video",
        target_id=video_id,
        after={"comment_id": comment.id, "at_seconds": comment.at_seconds, "text": comment.text},
    )
    return comment


@router.get("/v1/videos/{video_id}/comments", responses=problems(errors.VideoNotFound))
async def list_comments(
    video_id: uuid.UUID, conn: Tx, who: Principal = require_scopes("videos:read")
) -> list[CommentOut]:
    await recordings.live_video(conn, video_id)
    return [CommentOut(**dict(c)) for c in await repo.list_comments(conn, video_id)]


@router.post(
    "/v1/videos/{video_id}/links",
    status_code=201,
    responses=problems(errors.VideoNotFound, errors.SharingRefused),
)
async def create_link(
    video_id: uuid.UUID,
    conn: Tx,
    rt: VideoRuntimeDep,
    actor: audit.ActorDep,
    who: Principal = require_scopes("videos:write"),
) -> NewLinkOut:
    """V2: a link and its password, both returned this once (only hashes are kept)."""
    ctx = rt.context
    created = await sharing.create_link(conn, ctx, video_id, who.sub)
    base = LinkOut.of(created.link, clock.now())
    # the link's URL (its token) and password stay out of the trail (R5)
    await audit.record(
        conn,
        actor,
        "video.link_created",
        target_type="link",
        target_id=base.id,
        client_id=base.client_id,
        after=base.model_dump(mode="json", include={"video_id", "contract_id", "expires_at"}),
    )
    return NewLinkOut(**base.model_dump(), url=created.url, password=created.password)


@router.get("/v1/links")
async def list_links(
    conn: Tx,
    rt: VideoRuntimeDep,
    client_id: uuid.UUID | None = None,
    video_id: uuid.UUID | None = None,
    who: Principal = require_scopes("videos:read"),
) -> list[LinkOut]:
    now = clock.now()
    return [LinkOut.of(link, now) for link in await repo.list_links(conn, client_id, video_id)]


@router.post("/v1/links/{link_id}/revoke", responses=problems(errors.LinkNotFound))
async def revoke_link(
    link_id: uuid.UUID,
    conn: Tx,
    rt: VideoRuntimeDep,
    actor: audit.ActorDep,
    who: Principal = require_scopes("videos:write"),
) -> LinkOut:
    ctx = rt.context
    link = await sharing.revoke_link(conn, ctx, link_id, who.sub)
    out = LinkOut.of(link, clock.now())
    await audit.record(
        conn,
        actor,
        "video.link_revoked",
        target_type="link",
        target_id=out.id,
        client_id=out.client_id,
        after={"status": out.status, "revoked_reason": out.revoked_reason},
    )
    return out


@router.get("/v1/year-end/{year}")
async def year_end_effects(
    year: YearPath, conn: Read, who: Principal = require_scopes("videos:read")
) -> YearEndEffects:
    """V3 at the year-end: the links of the year's ended contracts, revoked by that end and
    still live."""
    return await sharing.year_end_effects(conn, year)


@router.get("/v1/access-log")
async def access_log(
    conn: Tx,
    link_id: uuid.UUID | None = None,
    video_id: uuid.UUID | None = None,
    client_id: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    who: Principal = require_scopes("videos:read"),
) -> list[AccessOut]:
    """V4: every page view, password attempt and stream, newest first."""
    rows = await repo.list_access_log(
        conn, link_id=link_id, video_id=video_id, client_id=client_id, limit=limit
    )
    return [AccessOut(**dict(r)) for r in rows]
