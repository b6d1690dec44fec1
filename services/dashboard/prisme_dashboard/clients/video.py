"""video-svc (port 8004): recordings, comments, share links and their access log."""

from __future__ import annotations

import uuid

from .base import Json, ServiceClient


class VideoClient(ServiceClient):
    name = "video"

    async def videos(
        self, *, client_id: uuid.UUID | None = None, contract_id: uuid.UUID | None = None
    ) -> list[Json]:
        return await self.get_list(
            "/v1/videos",
            {
                "client_id": str(client_id) if client_id else None,
                "contract_id": str(contract_id) if contract_id else None,
            },
        )

    async def links(
        self, *, client_id: uuid.UUID | None = None, video_id: uuid.UUID | None = None
    ) -> list[Json]:
        return await self.get_list(
            "/v1/links",
            {
                "client_id": str(client_id) if client_id else None,
                "video_id": str(video_id) if video_id else None,
            },
        )
