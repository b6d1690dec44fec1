"""billing-svc (port 8002): invoices, credit notes, payments, price book, four-eyes credits."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from .base import Json
from .year_end import ContractEndConsumer


def _id(value: uuid.UUID | None) -> str | None:
    return str(value) if value else None


class BillingClient(ContractEndConsumer):
    name = "billing"

    async def invoices(
        self,
        *,
        client_id: uuid.UUID | None = None,
        contract_id: uuid.UUID | None = None,
        number: str | None = None,
        status: str | None = None,
        purpose: str | None = None,
        overdue: bool = False,
        path: str = "/v1/invoices",
        **page: Any,
    ) -> Json:
        """A page of invoices billing-svc filtered: ``items`` and ``next_cursor``; ``page``
        takes the filters both lists share (:meth:`documents`)."""
        return await self.documents(
            path,
            client_id=client_id,
            contract_id=contract_id,
            number=number,
            status=status,
            purpose=purpose,
            overdue=overdue or None,
            **page,
        )

    async def invoice_totals(self, **filters: Any) -> Json:
        """``count``, ``total_ttc`` and ``outstanding`` of every invoice that the filters of
        :meth:`invoices` keep (all pages)."""
        return await self.invoices(path="/v1/invoices/totals", **filters)

    async def documents(
        self,
        path: str,
        *,
        client_id: uuid.UUID | None = None,
        contract_id: uuid.UUID | None = None,
        year: int | None = None,
        q: str | None = None,
        issued_from: date | None = None,
        issued_to: date | None = None,
        newest_first: bool = False,
        limit: int | None = None,
        cursor: str | None = None,
        **more: str | int | bool | None,
    ) -> Json:
        """A page of ``/v1/invoices`` or ``/v1/credit-notes``, filtered by billing-svc."""
        return await self.get_object(
            path,
            {
                "client_id": _id(client_id),
                "contract_id": _id(contract_id),
                "year": year,
                "q": q,
                "issued_from": str(issued_from) if issued_from else None,
                "issued_to": str(issued_to) if issued_to else None,
                "order": "-number" if newest_first else None,
                "limit": limit,
                "cursor": cursor,
                **more,
            },
        )

    async def invoice(self, invoice_id: uuid.UUID) -> Json:
        return await self.get_object(f"/v1/invoices/{invoice_id}")

    async def invoice_pdf(self, invoice_id: uuid.UUID) -> tuple[bytes, str]:
        return await self.get_bytes(f"/v1/invoices/{invoice_id}/pdf")

    async def invoice_history(self, invoice_id: uuid.UUID) -> list[Json]:
        return await self.get_every(f"/v1/invoices/{invoice_id}/history")

    async def credit_notes(
        self,
        *,
        invoice_id: uuid.UUID | None = None,
        purpose: str | None = None,
        **page: Any,
    ) -> Json:
        """A page of credit notes billing-svc filtered (``invoice_id``: those of one invoice)."""
        return await self.documents(
            "/v1/credit-notes", invoice_id=_id(invoice_id), purpose=purpose, **page
        )

    async def credit_note_pdf(self, note_id: uuid.UUID) -> tuple[bytes, str]:
        return await self.get_bytes(f"/v1/credit-notes/{note_id}/pdf")

    async def record_payment(
        self,
        invoice_id: uuid.UUID,
        *,
        method: str,
        amount: Decimal,
        paid_on: date,
        reference: str | None = None,
    ) -> Json:
        body: Json = {"method": method, "amount": str(amount), "paid_on": str(paid_on)}
        if reference:
            body["reference"] = reference
        return await self.send("POST", f"/v1/invoices/{invoice_id}/payments", body)

    async def contract_billing(self, contract_id: uuid.UUID) -> Json:
        return await self.get_object(f"/v1/contracts/{contract_id}/billing")

    async def price_book(self) -> Json:
        return await self.get_object("/v1/price-book")

    async def charges(self, *, status: str | None = None, cursor: str | None = None) -> Json:
        """A page of charges, oldest first: ``items`` and ``next_cursor``."""
        return await self.get_object(
            "/v1/charges", {"status": status, "limit": 200, "cursor": cursor}
        )

    # --- four eyes (O2): correcting credit notes -------------------------------------------
    async def approvals(self, *, status: str | None = None, cursor: str | None = None) -> Json:
        """A page of four-eyes requests, oldest first: ``items`` and ``next_cursor``."""
        return await self.get_object(
            "/v1/approvals", {"status": status, "limit": 200, "cursor": cursor}
        )

    async def approve(self, approval_id: uuid.UUID, note: str) -> Json:
        return await self.send("POST", f"/v1/approvals/{approval_id}/approve", {"note": note})

    async def reject(self, approval_id: uuid.UUID, note: str) -> Json:
        return await self.send("POST", f"/v1/approvals/{approval_id}/reject", {"note": note})
