"""Corrections (B6) under four eyes (O2): a credit note against any finalised invoice, full
or partial, with a reason, requested by one operator and issued when another approves.

No SQL and no HTTP here; the route owns the transaction. The request, its checks (maker ≠
checker, expiry, payload hash) and its decision are ``four_eyes``'s; this module is the kind
``correction``: what is checked when asked and again when approved, the credit note it issues.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg
from prisme_chassis.audit import Actor
from prisme_chassis.errors import Unprocessable
from prisme_chassis.money import ZERO, money_str

from . import domain, errors, four_eyes, service
from . import repository as repo
from .four_eyes import Applied, Trail


class CreditExceedsInvoice(Unprocessable):
    code = "credit-exceeds-invoice"
    title = "The credit notes would exceed the invoice"


PROBLEMS = (four_eyes.SelfApproval, four_eyes.ApprovalClosed, CreditExceedsInvoice)


async def _invoice(conn: asyncpg.Connection, invoice_id: uuid.UUID) -> asyncpg.Record:
    invoice = await repo.document(conn, invoice_id, lock=True)
    if invoice is None or invoice["kind"] != "invoice" or invoice["status"] == "draft":
        raise errors.FinalisedInvoiceNotFound("no such finalised invoice", invoice_id=invoice_id)
    return invoice


async def correction_lines(
    conn: asyncpg.Connection, invoice: asyncpg.Record, payload: dict[str, Any]
) -> list[repo.NewLine]:
    """The credit note's lines for ``payload``, or a problem when it would credit more than
    what earlier credit notes left of the invoice (in total, or of one line)."""
    credited, per_line = await repo.credited(conn, invoice["id"])
    left = invoice["total_ttc"] - credited
    if left <= 0:
        raise CreditExceedsInvoice(
            f"la facture {invoice['number']} est déjà entièrement créditée", left="0.00"
        )
    rows = (await repo.lines(conn, [invoice["id"]]))[invoice["id"]]
    by_position = {r["position"]: r for r in rows}
    reason = payload["reason"]
    charges: list[tuple[domain.Charge, int | None]] = []
    try:
        if payload.get("lines"):
            for item in payload["lines"]:
                row = by_position.get(item["line"])
                if row is None:
                    raise errors.InvalidCorrection(
                        f"la facture n'a pas de ligne {item['line']}",
                        lines=sorted(by_position),
                    )
                charge = domain.correction_charge(
                    invoice["number"],
                    _invoiced(row),
                    Decimal(item["amount_ttc"]),
                    per_line.get(row["position"], ZERO),
                    reason,
                )
                charges.append((charge, row["position"]))
        else:
            whole = domain.InvoicedLine(
                description="ensemble de la facture",
                yearly_ttc=None,
                period_start=min(r["period_start"] for r in rows),
                period_end=max(r["period_end"] for r in rows),
                amount_ttc=invoice["total_ttc"],
            )
            amount = Decimal(payload["amount_ttc"]) if payload.get("amount_ttc") else left
            charge = domain.correction_charge(invoice["number"], whole, amount, credited, reason)
            charges.append((charge, None))
    except domain.CreditExceeded as exc:
        raise CreditExceedsInvoice(str(exc), left=money_str(left)) from exc
    except ValueError as exc:
        raise errors.InvalidCorrection(str(exc)) from exc
    total = sum((c.amount_ttc for c, _ in charges), ZERO)
    if total > left:
        raise CreditExceedsInvoice(
            f"l'avoir ({money_str(total)} EUR) dépasserait ce qui reste de la facture "
            f"{invoice['number']} ({money_str(left)} EUR)",
            left=money_str(left),
        )
    return [service.new_line(c, credits_position=pos) for c, pos in charges]


def _invoiced(row: asyncpg.Record) -> domain.InvoicedLine:
    return domain.InvoicedLine(
        row["description"],
        row["yearly_ttc"],
        row["period_start"],
        row["period_end"],
        row["total_ttc"],
        row["postes"],
    )


def _on_invoice(step: str, approval: asyncpg.Record, **detail: object) -> Trail:
    """A correction's steps are audited on its invoice (O3: the invoice's history shows them)."""
    return Trail(
        f"correction.{step}",
        "invoice",
        approval["target_id"],
        detail={"approval": str(approval["id"]), **detail},
    )


class Correction:
    """The kind ``correction``: a credit note against the invoice ``target_id``."""

    name = "correction"

    def requested(self, approval: asyncpg.Record) -> Trail:
        return _on_invoice("requested", approval, payload_hash=approval["payload_hash"])

    async def apply(
        self, conn: asyncpg.Connection, approval: asyncpg.Record, checker: Actor
    ) -> Applied:
        """The credit note is numbered (A series) and issued, and what is then overpaid is
        refunded (Stripe when paid there, else a manual refund)."""
        invoice = await _invoice(conn, approval["target_id"])
        new_lines = await correction_lines(conn, invoice, approval["payload"])
        note_id, number = await service.issue_credit_note(
            conn, invoice, new_lines, purpose="correction", reason=approval["reason"]
        )
        trail = _on_invoice("approved", approval, credit_note=number, maker=approval["maker"])
        return Applied(trail, result_id=note_id)

    def rejected(self, approval: asyncpg.Record) -> Trail:
        return _on_invoice("rejected", approval, maker=approval["maker"])


CORRECTION = Correction()


async def request(
    conn: asyncpg.Connection,
    invoice_id: uuid.UUID,
    payload: dict[str, Any],
    *,
    maker: Actor,
    now: datetime,
) -> asyncpg.Record:
    """B6/O2: record a correction request (checked now, and again when approved)."""
    invoice = await _invoice(conn, invoice_id)
    await correction_lines(conn, invoice, payload)
    return await four_eyes.request(
        conn,
        CORRECTION,
        payload,
        target_id=invoice_id,
        reason=payload["reason"],
        maker=maker,
        now=now,
    )
