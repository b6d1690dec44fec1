"""video-svc (port 8004): recordings, comments, share links and their access log."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import IO

import httpx

from .base import Json
from .year_end import ContractEndConsumer


class VideoClient(ContractEndConsumer):
    name = "video"

    async def videos(
        self,
        *,
        client_id: uuid.UUID | None = None,
        contract_id: uuid.UUID | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Json:
        """A page of recordings, newest first: ``items`` and ``next_cursor``."""
        return await self.get_page(
            "/v1/videos",
            {
                "client_id": str(client_id) if client_id else None,
                "contract_id": str(contract_id) if contract_id else None,
                "limit": limit,
                "cursor": cursor,
            },
        )

    async def links(
        self, *, client_id: uuid.UUID | None = None, video_id: uuid.UUID | None = None
    ) -> list[Json]:
        """Every share link the filters keep (all pages), newest first: e.g. one video's."""
        return await self.get_every(
            "/v1/links",
            {
                "client_id": str(client_id) if client_id else None,
                "video_id": str(video_id) if video_id else None,
            },
        )

    async def video(self, video_id: uuid.UUID) -> Json:
        """A recording with its timestamped comments."""
        return await self.get_object(f"/v1/videos/{video_id}")

    async def upload(
        self,
        *,
        client_id: str,
        contract_id: str,
        title: str,
        filename: str,
        file: IO[bytes],
        content_type: str,
    ) -> Json:
        """Relay an upload (the file is read in chunks from the dashboard's spooled copy)."""
        response = await self.request(
            "POST",
            "/v1/videos",
            data={"client_id": client_id, "contract_id": contract_id, "title": title},
            files={"file": (filename, file, content_type)},
            expect=(201,),
        )
        answer: Json = response.json()
        return answer

    async def comment(self, video_id: uuid.UUID, at_seconds: Decimal, text: str) -> Json:
        body = {"at_seconds": str(at_seconds), "text": text}
        return await self.send("POST", f"/v1/videos/{video_id}/comments", body)

    async def share(self, video_id: uuid.UUID) -> Json:
        """A new link: its ``url`` and ``password`` are in this answer only."""
        return await self.send("POST", f"/v1/videos/{video_id}/links")

    async def revoke_link(self, link_id: uuid.UUID) -> Json:
        return await self.send("POST", f"/v1/links/{link_id}/revoke")

    async def access_log(
        self, *, video_id: uuid.UUID | None = None, link_id: uuid.UUID | None = None
    ) -> list[Json]:
        """The newest 200 views, password attempts and streams (the first page)."""
        found = await self.get_page(
            "/v1/access-log",
            {
                "video_id": str(video_id) if video_id else None,
                "link_id": str(link_id) if link_id else None,
                "limit": 200,
            },
        )
        rows: list[Json] = found["items"]
        return rows

    async def open_player(self, video_id: uuid.UUID, range_header: str | None) -> httpx.Response:
        """The recording streamed for the operators' player (Range relayed)."""
        headers = {"Range": range_header} if range_header else {}
        return await self.open_stream(f"/v1/videos/{video_id}/stream", headers)

    async def poster(self, video_id: uuid.UUID) -> tuple[bytes, str]:
        return await self.get_bytes(f"/v1/videos/{video_id}/poster")
