"""Corrections (B6) under four eyes (O2): a credit note against any finalised invoice, full
or partial, with a reason, requested by one operator and issued when another approves.

No SQL and no HTTP here; the route owns the transaction. The approval stores the maker, the
exact payload and its hash, an expiry and the decision; maker ≠ checker is enforced here (by
the token's ``sub``) and by a CHECK in the table.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
from prisme_chassis import audit
from prisme_chassis.audit import Actor
from prisme_chassis.errors import Conflict, Forbidden, Unprocessable
from prisme_chassis.money import ZERO, money_str

from . import domain, errors, service
from . import repository as repo

#: A correction request not decided within this delay can no longer be approved (O2).
APPROVAL_TTL = timedelta(days=7)


class SelfApproval(Forbidden):
    """O2: the maker of a four-eyes request cannot be its checker."""

    code = "self-approval"
    title = "Self-approval refused (four eyes)"


class ApprovalClosed(Conflict):
    code = "approval-closed"
    title = "The request is no longer pending"


class CreditExceedsInvoice(Unprocessable):
    code = "credit-exceeds-invoice"
    title = "The credit notes would exceed the invoice"


PROBLEMS = (SelfApproval, ApprovalClosed, CreditExceedsInvoice)


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
    approval = await repo.insert_approval(
        conn,
        kind="correction",
        target_id=invoice_id,
        payload=payload,
        reason=payload["reason"],
        maker=maker.sub,
        maker_name=maker.name,
        expires_at=now + APPROVAL_TTL,
    )
    await audit.record(
        conn,
        maker,
        "correction.requested",
        target_type="invoice",
        target_id=invoice_id,
        reason=payload["reason"],
        detail={"approval": str(approval["id"]), "payload_hash": approval["payload_hash"]},
    )
    return approval


async def pending(
    conn: asyncpg.Connection, approval_id: uuid.UUID, checker: str, now: datetime
) -> asyncpg.Record:
    approval = await repo.approval(conn, approval_id, lock=True)
    if approval is None:
        raise errors.ApprovalNotFound("no such approval request", approval_id=approval_id)
    if approval["status"] != "pending":
        raise ApprovalClosed(f"this request is {approval['status']}", status_now=approval["status"])
    if approval["expires_at"] <= now:
        raise ApprovalClosed("this request expired; the maker must request it again")
    # O2: maker ≠ checker, by identity (``sub`` of the bearer token).
    if approval["maker"] == checker:
        raise SelfApproval("the operator who made the request cannot decide on it")
    if repo.payload_hash(approval["payload"]) != approval["payload_hash"]:
        raise errors.ApprovalTampered(
            "the stored request does not match its hash; it cannot be approved"
        )
    return approval


async def approve(
    conn: asyncpg.Connection,
    approval_id: uuid.UUID,
    *,
    checker: Actor,
    note: str,
    now: datetime,
) -> asyncpg.Record:
    """O2: another operator approves: the credit note is numbered (A series) and issued, and
    what is then overpaid is refunded (Stripe when paid there, else a manual refund)."""
    approval = await pending(conn, approval_id, checker.sub, now)
    invoice = await _invoice(conn, approval["target_id"])
    new_lines = await correction_lines(conn, invoice, approval["payload"])
    note_id, number = await service.issue_credit_note(
        conn, invoice, new_lines, purpose="correction", reason=approval["reason"]
    )
    decided = await repo.decide_approval(
        conn,
        approval_id,
        status="approved",
        checker=checker.sub,
        checker_name=checker.name,
        note=note,
        result_id=note_id,
    )
    await audit.record(
        conn,
        checker,
        "correction.approved",
        target_type="invoice",
        target_id=invoice["id"],
        reason=note,
        detail={"approval": str(approval_id), "credit_note": number, "maker": approval["maker"]},
    )
    return decided


async def reject(
    conn: asyncpg.Connection,
    approval_id: uuid.UUID,
    *,
    checker: Actor,
    note: str,
    now: datetime,
) -> asyncpg.Record:
    approval = await pending(conn, approval_id, checker.sub, now)
    decided = await repo.decide_approval(
        conn,
        approval_id,
        status="rejected",
        checker=checker.sub,
        checker_name=checker.name,
        note=note,
    )
    await audit.record(
        conn,
        checker,
        "correction.rejected",
        target_type="invoice",
        target_id=approval["target_id"],
        reason=note,
        detail={"approval": str(approval_id), "maker": approval["maker"]},
    )
    return decided
