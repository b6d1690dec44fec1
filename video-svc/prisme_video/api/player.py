"""Route of the operators' player (the dashboard): a recording streamed by its id."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse
from prisme_chassis.auth import Principal, require_scopes
from prisme_chassis.errors import problems

from .. import errors, viewing
from ..context import VideoRuntimeDep
from ..viewing import STREAM_HEADERS, media_type
from .common import status_problems

router = APIRouter(tags=["videos"], responses=status_problems(401, 403, 422))


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
