"""Routes of recordings (V1): the upload, the list, one recording with its comments, its
poster."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request, Response
from prisme_chassis import audit, pagination
from prisme_chassis.app import Tx
from prisme_chassis.auth import Principal, require_scopes
from prisme_chassis.db import transaction
from prisme_chassis.errors import problems
from pydantic import BaseModel, Field

from .. import errors, recordings
from .. import repository as repo
from ..context import VideoRuntimeDep
from ..multipart import MalformedFormError, TooLargeError, read_form
from ..repository import VideoRow
from .comments import CommentOut
from .common import status_problems

router = APIRouter(tags=["videos"], responses=status_problems(401, 403, 422))


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
            comments=[CommentOut.of(c) for c in comments or []],
        )


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


@router.get("/v1/videos", responses=problems(pagination.InvalidCursor))
async def list_videos(
    conn: Tx,
    client_id: uuid.UUID | None = None,
    contract_id: uuid.UUID | None = None,
    limit: pagination.Limit = pagination.DEFAULT_LIMIT,
    cursor: pagination.Cursor = None,
    who: Principal = require_scopes("videos:read"),
) -> pagination.Page[VideoOut]:
    """Recordings, newest upload first, a page at a time (``next_cursor`` back as ``cursor``)."""
    before = pagination.decode(cursor, pagination.moment, uuid.UUID)
    rows = await repo.list_videos(conn, client_id, contract_id, limit=limit + 1, before=before)
    return pagination.Page[VideoOut].of(
        rows, limit, key=lambda v: (v.uploaded_at, v.id), out=VideoOut.of
    )


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
