"""webhooks (port 8006): endpoints, deliveries, alerts and the support hours (S1)."""

from __future__ import annotations

from .base import Json, ServiceClient


class WebhooksClient(ServiceClient):
    name = "webhooks"

    async def alerts(
        self, *, open_only: bool = False, limit: int = 50, cursor: str | None = None
    ) -> Json:
        """A page of alerts, newest first: ``items`` and ``next_cursor`` (or None)."""
        return await self.get_object(
            "/v1/alerts", {"open": open_only, "limit": limit, "cursor": cursor}
        )

    async def support_hours(self) -> Json:
        return await self.get_object("/v1/support-hours")

    async def endpoints(self, *, cursor: str | None = None) -> Json:
        """A page of integrators' endpoints: ``items`` and ``next_cursor``."""
        return await self.get_object("/v1/endpoints", {"cursor": cursor, "limit": 100})
