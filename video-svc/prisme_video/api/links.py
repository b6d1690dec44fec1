"""Routes of share links (V2, V3): a link and its password, the list, revoking one."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from fastapi import APIRouter
from prisme_chassis import audit, clock, pagination
from prisme_chassis.app import Tx
from prisme_chassis.auth import Principal, require_scopes
from prisme_chassis.errors import problems
from pydantic import BaseModel, Field

from .. import errors, sharing
from .. import repository as repo
from ..context import VideoRuntimeDep
from ..repository import LinkRow
from .common import status_problems

router = APIRouter(tags=["videos"], responses=status_problems(401, 403, 422))


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


@router.get("/v1/links", responses=problems(pagination.InvalidCursor))
async def list_links(
    conn: Tx,
    rt: VideoRuntimeDep,
    client_id: uuid.UUID | None = None,
    video_id: uuid.UUID | None = None,
    limit: pagination.Limit = pagination.DEFAULT_LIMIT,
    cursor: pagination.Cursor = None,
    who: Principal = require_scopes("videos:read"),
) -> pagination.Page[LinkOut]:
    """Share links, newest first, a page at a time (``next_cursor`` back as ``cursor``)."""
    before = pagination.decode(cursor, pagination.moment, uuid.UUID)
    now = clock.now()
    rows = await repo.list_links(conn, client_id, video_id, limit=limit + 1, before=before)
    return pagination.Page[LinkOut].of(
        rows, limit, key=lambda link: (link.created_at, link.id), out=lambda r: LinkOut.of(r, now)
    )


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
