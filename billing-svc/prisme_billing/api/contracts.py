"""Route of a contract's billing and payment status (B8)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from prisme_chassis.app import Tx
from prisme_chassis.auth import Principal, require_scopes
from prisme_chassis.errors import problems
from prisme_chassis.money import ZERO, money_str
from pydantic import BaseModel

from .. import domain, errors
from .. import repository as repo
from ..errors import ContractUnknown

router = APIRouter(tags=["billing"])


class ContractBillingOut(BaseModel):
    contract_id: uuid.UUID
    client_id: uuid.UUID
    year: int
    contract_status: str
    payment_status: str
    total_invoiced: str
    total_paid: str
    total_credited: str
    total_refunded: str
    currency: str = "EUR"


@router.get("/v1/contracts/{contract_id}/billing", responses=problems(errors.ContractUnknown))
async def contract_billing(
    contract_id: uuid.UUID, conn: Tx, who: Principal = require_scopes("billing:read")
) -> ContractBillingOut:
    """B8: a contract's payment status as Stripe's webhooks and manual payments left it."""
    found = await repo.contract_billing(conn, contract_id)
    if found is None:
        raise ContractUnknown("billing knows no such contract", contract_id=contract_id)
    contract, docs = found["contract"], found["documents"]
    invoices = [d for d in docs if d["kind"] == "invoice"]
    refunded = sum((d["amount_refunded"] for d in invoices), ZERO)
    return ContractBillingOut(
        contract_id=contract_id,
        client_id=contract["client_id"],
        year=contract["year"],
        contract_status=contract["status"],
        payment_status=domain.contract_payment_status(
            [d["status"] for d in invoices], found["awaiting"] > 0, refunded > 0
        ),
        total_invoiced=money_str(sum((d["total_ttc"] for d in invoices), ZERO)),
        total_paid=money_str(sum((d["amount_paid"] for d in invoices), ZERO)),
        total_credited=money_str(
            sum((d["total_ttc"] for d in docs if d["kind"] == "credit_note"), ZERO)
        ),
        total_refunded=money_str(refunded),
    )
