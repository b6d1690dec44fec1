"""backup-svc (port 8005): backup plans, runs, checks, alerts, exports."""

from __future__ import annotations

import uuid
from datetime import datetime

from .base import Json, ServiceClient


class BackupClient(ServiceClient):
    name = "backup"

    async def plans(self, *, client_id: uuid.UUID | None = None) -> list[Json]:
        """Every plan the filter keeps (all pages), oldest first."""
        return await self.get_every(
            "/v1/plans", {"client_id": str(client_id) if client_id else None}
        )

    async def plans_page(
        self,
        *,
        client_id: uuid.UUID | None = None,
        status: str | None = None,
        no_copy_since: datetime | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Json:
        """A page of plans by practice name, case and accents ignored (``items``,
        ``next_cursor``); ``no_copy_since``: only those without a good copy finished since
        then."""
        return await self.get_page_of(
            "/v1/plans",
            limit=limit,
            cursor=cursor,
            order="name",
            client_id=client_id,
            status=status,
            no_copy_since=no_copy_since.isoformat() if no_copy_since else None,
        )

    async def open_alerts_page(
        self, *, client_id: uuid.UUID | None = None, limit: int = 50
    ) -> Json:
        """The newest ``limit`` open alerts, and whether more wait (``next_cursor``)."""
        return await self.get_page_of(
            "/v1/alerts", limit=limit, cursor=None, client_id=client_id, open_only="true"
        )

    async def plan(self, plan_id: uuid.UUID) -> Json:
        return await self.get_object(f"/v1/plans/{plan_id}")

    async def alerts(
        self, *, client_id: uuid.UUID | None = None, open_only: bool = False
    ) -> list[Json]:
        """Every alert the filters keep (all pages), newest first."""
        return await self.get_every(
            "/v1/alerts",
            {"client_id": str(client_id) if client_id else None, "open_only": open_only},
        )

    async def runs(self, plan_id: uuid.UUID, *, limit: int = 60) -> list[Json]:
        """The plan's ``limit`` newest runs (one page, 200 at most)."""
        found = await self.get_page(f"/v1/plans/{plan_id}/runs", {"limit": limit})
        rows: list[Json] = found["items"]
        return rows

    async def checks(self, plan_id: uuid.UUID, *, limit: int = 50) -> list[Json]:
        """The plan's ``limit`` newest checks (one page, 200 at most)."""
        found = await self.get_page(f"/v1/plans/{plan_id}/checks", {"limit": limit})
        rows: list[Json] = found["items"]
        return rows

    async def snapshots(self, plan_id: uuid.UUID) -> list[Json]:
        """Every copy the plan keeps (all pages: 30 days of history at most), newest first."""
        return await self.get_every(f"/v1/plans/{plan_id}/snapshots")
