"""Events published by video-svc (stream VIDEOS). Never carries a token or password (V2)."""

from __future__ import annotations

import uuid
from typing import ClassVar

from pydantic import AwareDatetime

from .base import Event


class VideoLinkEvent(Event):
    source: ClassVar[str] = "video-svc"
    # v2: ``version``, the aggregate's version, on every event (DESIGN §3)
    schema_version: ClassVar[int] = 2

    link_id: uuid.UUID
    video_id: uuid.UUID
    client_id: uuid.UUID
    contract_id: uuid.UUID

    def aggregate_id(self) -> str:
        return str(self.link_id)


class VideoLinkCreated(VideoLinkEvent):
    """A share link was created for a recording (V2)."""

    subject: ClassVar[str] = "video.link_created"
    expires_at: AwareDatetime


class VideoLinkRevoked(VideoLinkEvent):
    """A share link was revoked, e.g. because its contract ended (V3)."""

    subject: ClassVar[str] = "video.link_revoked"
    reason: str
