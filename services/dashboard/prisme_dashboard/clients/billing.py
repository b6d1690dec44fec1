"""billing-svc (port 8002): invoices, credit notes, payments, price book, four-eyes credits."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from .base import Json, ServiceClient


def _id(value: uuid.UUID | None) -> str | None:
    return str(value) if value else None


class BillingClient(ServiceClient):
    name = "billing"

    async def invoices(
        self,
        *,
        client_id: uuid.UUID | None = None,
        contract_id: uuid.UUID | None = None,
        number: str | None = None,
    ) -> list[Json]:
        return await self.get_list(
            "/v1/invoices",
            {"client_id": _id(client_id), "contract_id": _id(contract_id), "number": number},
        )

    async def invoice(self, invoice_id: uuid.UUID) -> Json:
        return await self.get_object(f"/v1/invoices/{invoice_id}")

    async def invoice_pdf(self, invoice_id: uuid.UUID) -> tuple[bytes, str]:
        return await self.get_bytes(f"/v1/invoices/{invoice_id}/pdf")

    async def invoice_history(self, invoice_id: uuid.UUID) -> list[Json]:
        return await self.get_list(f"/v1/invoices/{invoice_id}/history")

    async def credit_notes(
        self, *, client_id: uuid.UUID | None = None, contract_id: uuid.UUID | None = None
    ) -> list[Json]:
        return await self.get_list(
            "/v1/credit-notes", {"client_id": _id(client_id), "contract_id": _id(contract_id)}
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

    async def charges(self, *, status: str | None = None) -> list[Json]:
        return await self.get_list("/v1/charges", {"status": status})

    # --- four eyes (O2): correcting credit notes -------------------------------------------
    async def approvals(self, *, status: str | None = None) -> list[Json]:
        return await self.get_list("/v1/approvals", {"status": status})

    async def approve(self, approval_id: uuid.UUID, note: str) -> Json:
        return await self.send("POST", f"/v1/approvals/{approval_id}/approve", {"note": note})

    async def reject(self, approval_id: uuid.UUID, note: str) -> Json:
        return await self.send("POST", f"/v1/approvals/{approval_id}/reject", {"note": note})
