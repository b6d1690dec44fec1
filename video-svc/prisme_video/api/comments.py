"""Routes of the comments on a recording, at a moment of it."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated

import asyncpg
from fastapi import APIRouter
from prisme_chassis import audit, pagination
from prisme_chassis.app import Tx
from prisme_chassis.auth import Principal, require_scopes
from prisme_chassis.errors import problems
from pydantic import AfterValidator, BaseModel, Field, WithJsonSchema

from .. import errors, recordings
from .. import repository as repo
from .common import status_problems

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

    @classmethod
    def of(cls, row: asyncpg.Record) -> CommentOut:
        return cls(
            id=row["id"],
            video_id=row["video_id"],
            at_seconds=row["at_seconds"],
            text=row["text"],
            author=row["author"],
            created_at=row["created_at"],
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
    comment = CommentOut.of(row)
    await audit.record(
        conn,
        actor,
        "video.commented",
        target_type="video",
        target_id=video_id,
        after={"comment_id": comment.id, "at_seconds": comment.at_seconds, "text": comment.text},
    )
    return comment


@router.get(
    "/v1/videos/{video_id}/comments",
    responses=problems(errors.VideoNotFound, pagination.InvalidCursor),
)
async def list_comments(
    video_id: uuid.UUID,
    conn: Tx,
    limit: pagination.Limit = pagination.DEFAULT_LIMIT,
    cursor: pagination.Cursor = None,
    who: Principal = require_scopes("videos:read"),
) -> pagination.Page[CommentOut]:
    """The recording's comments by their moment in it, a page at a time."""
    after = pagination.decode(cursor, Decimal, pagination.moment, uuid.UUID)
    await recordings.live_video(conn, video_id)
    rows = await repo.list_comments(conn, video_id, limit=limit + 1, after=after)
    return pagination.Page[CommentOut].of(
        rows,
        limit,
        key=lambda c: (c["at_seconds"], c["created_at"], c["id"]),
        out=CommentOut.of,
    )
