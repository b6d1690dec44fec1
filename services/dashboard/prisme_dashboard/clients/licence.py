"""licence-svc (port 8003): Microsoft 365 accounts per practice, failures, alerts."""

from __future__ import annotations

import uuid

from .base import Json
from .year_end import ContractEndConsumer


class LicenceClient(ContractEndConsumer):
    name = "licence"

    async def accounts(
        self, *, client_id: uuid.UUID | None = None, contract_id: uuid.UUID | None = None
    ) -> list[Json]:
        """Every account the filters keep (all pages), by practice then UPN."""
        return await self.get_every(
            "/v1/accounts",
            {
                "client_id": str(client_id) if client_id else None,
                "contract_id": str(contract_id) if contract_id else None,
            },
        )

    async def alerts(self) -> list[Json]:
        """Every account with an alert (all pages), oldest first."""
        return await self.get_every("/v1/alerts")

    async def job_summary(self) -> Json:
        return await self.get_object("/v1/jobs/summary")

    async def reveal_password(self, account_id: uuid.UUID) -> Json:
        """The initial password, this once (``licences:credentials``); a second call is 410."""
        return await self.send("POST", f"/v1/accounts/{account_id}/credentials")
