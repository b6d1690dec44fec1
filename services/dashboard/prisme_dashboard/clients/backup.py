"""backup-svc (port 8005): backup plans, runs, checks, alerts, exports."""

from __future__ import annotations

import uuid

from .base import Json, ServiceClient


class BackupClient(ServiceClient):
    name = "backup"

    async def plans(self, *, client_id: uuid.UUID | None = None) -> list[Json]:
        return await self.get_list(
            "/v1/plans", {"client_id": str(client_id) if client_id else None}
        )

    async def plan(self, plan_id: uuid.UUID) -> Json:
        return await self.get_object(f"/v1/plans/{plan_id}")

    async def alerts(
        self, *, client_id: uuid.UUID | None = None, open_only: bool = False
    ) -> list[Json]:
        return await self.get_list(
            "/v1/alerts",
            {"client_id": str(client_id) if client_id else None, "open_only": open_only},
        )

    async def runs(self, plan_id: uuid.UUID, *, limit: int = 60) -> list[Json]:
        return await self.get_list(f"/v1/plans/{plan_id}/runs", {"limit": limit})

    async def checks(self, plan_id: uuid.UUID, *, limit: int = 50) -> list[Json]:
        return await self.get_list(f"/v1/plans/{plan_id}/checks", {"limit": limit})

    async def snapshots(self, plan_id: uuid.UUID) -> list[Json]:
        return await self.get_list(f"/v1/plans/{plan_id}/snapshots")
