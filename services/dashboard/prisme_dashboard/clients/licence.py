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

    async def accounts_page(
        self,
        *,
        client_id: uuid.UUID | None = None,
        status: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Json:
        """A page of accounts by practice then UPN (``items``, ``next_cursor``)."""
        return await self.get_page_of(
            "/v1/accounts", limit=limit, cursor=cursor, client_id=client_id, status=status
        )

    async def account(self, account_id: uuid.UUID) -> Json:
        return await self.get_object(f"/v1/accounts/{account_id}")

    async def summary(self, *, client_id: uuid.UUID | None = None) -> Json:
        """Accounts per SKU and status (``total``, ``by_sku``): the seats in use."""
        return await self.get_object(
            "/v1/accounts/summary", {"client_id": str(client_id) if client_id else None}
        )

    async def alerts_page(self, *, client_id: uuid.UUID | None = None, limit: int = 50) -> Json:
        """The first ``limit`` accounts with an alert, oldest first, and whether more wait."""
        return await self.get_page_of("/v1/alerts", limit=limit, cursor=None, client_id=client_id)

    async def job_summary(self) -> Json:
        return await self.get_object("/v1/jobs/summary")

    async def reveal_password(self, account_id: uuid.UUID) -> Json:
        """The initial password, this once (``licences:credentials``); a second call is 410."""
        return await self.send("POST", f"/v1/accounts/{account_id}/credentials")
