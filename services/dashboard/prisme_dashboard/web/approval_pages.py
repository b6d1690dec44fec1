"""À valider (four eyes, O2): the requests waiting for a second operator.

Cessations (contracts-svc) and correcting credit notes (billing-svc), each with its maker,
the exact payload and its document. The operator's own requests are listed, marked as theirs,
without the decision buttons; the services refuse a self-approval anyway (SelfApproval).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from prisme_chassis.app import Tx

from ..clients import Json, ServiceProblem, Services
from . import labels  # noqa: F401  (registers the labels in the templates)
from .deps import GuardedForm, SignedIn, Visit, services_for
from .render import NOTICES, page
from .service_pages import Refusal, has_scope, is_me, operator_names, optional

router = APIRouter(include_in_schema=False)

NOTICES.update(
    termination_approved="La cessation est approuvée : le contrat prend fin à la date d'effet.",
    termination_rejected="La cessation est refusée : le contrat reste actif.",
    credit_approved="L'avoir est approuvé et émis.",
    credit_rejected="La demande d'avoir est refusée.",
)
Note = Annotated[str, Form(max_length=2000)]


async def pending_for(svc: Services, visit: Visit) -> tuple[list[Json], list[Json], list[str]]:
    """Pending cessations and credit-note requests the operator can read, and notes about the
    parts they cannot."""
    (cessations, c_note), (credits, b_note) = await asyncio.gather(
        optional(svc.contracts.terminations(status="pending"), []),
        optional(svc.billing.approvals(status="pending"), {"items": []}),
    )
    return cessations, credits["items"], [n for n in (c_note, b_note) if n]


async def waiting_for_me(svc: Services, visit: Visit) -> int:
    """How many requests this operator may decide (not their own, and they hold the scope)."""
    cessations, credits, _ = await pending_for(svc, visit)
    count = 0
    if has_scope(visit, "contracts:approve"):
        count += sum(1 for t in cessations if not is_me(visit, t["requested_by"]))
    if has_scope(visit, "billing:approve"):
        count += sum(1 for a in credits if not is_me(visit, a["maker"]))
    return count


async def _page(
    request: Request,
    conn: Any,
    visit: Visit,
    *,
    status: int = 200,
    refusal: Refusal | None = None,
    refused_id: str | None = None,
) -> Response:
    svc = services_for(request, visit)
    cessations, credits, notes = await pending_for(svc, visit)
    contracts = await asyncio.gather(
        *(svc.contracts.get_contract(uuid.UUID(t["contract_id"])) for t in cessations)
    )
    client_ids = sorted({c["client_id"] for c in contracts})
    practices = (
        {
            c["id"]: c
            for c in await svc.contracts.list_clients(ids=[uuid.UUID(i) for i in client_ids])
        }
        if client_ids
        else {}
    )
    names = await operator_names(
        conn, [t["requested_by"] for t in cessations] + [a["maker"] for a in credits]
    )
    rows = []
    for t, contract in zip(cessations, contracts, strict=True):
        rows.append(
            {
                "t": t,
                "contract": contract,
                "practice": practices.get(contract["client_id"]),
                "maker": names.get(t["requested_by"], t["requested_by"]),
                "mine": is_me(visit, t["requested_by"]),
                "payload": json.dumps(
                    {
                        "contract_id": t["contract_id"],
                        "reason": t["reason"],
                        "effective_date": t["effective_date"],
                        "document": {
                            "name": t["document_name"],
                            "type": t["document_type"],
                            "size": t["document_size"],
                            "sha256": t["document_sha256"],
                        },
                    },
                    ensure_ascii=False,
                    indent=2,
                ),
            }
        )
    credit_rows = [
        {
            "a": a,
            "maker": a.get("maker_name") or names.get(a["maker"], a["maker"]),
            "mine": is_me(visit, a["maker"]),
            "payload": json.dumps(a["payload"], ensure_ascii=False, indent=2),
        }
        for a in credits
    ]
    return page(
        request,
        "approvals.html",
        status=status,
        cessations=rows,
        credits=credit_rows,
        notes=notes,
        can_contracts=has_scope(visit, "contracts:approve"),
        can_billing=has_scope(visit, "billing:approve"),
        refusal=refusal or Refusal(),
        refused_id=refused_id,
    )


@router.get("/a-valider")
async def approvals(request: Request, conn: Tx, visit: SignedIn) -> Response:
    return await _page(request, conn, visit)


@router.get("/a-valider/cessations/{termination_id}/document")
async def cessation_document(
    termination_id: uuid.UUID, request: Request, visit: SignedIn
) -> Response:
    """The official document, opened in the browser (as the operator: audited by the read)."""
    data, media_type = await services_for(request, visit).contracts.termination_document(
        termination_id
    )
    return Response(
        data,
        media_type=media_type,
        headers={"Content-Disposition": f'inline; filename="cessation-{termination_id}"'},
    )


async def _decide(
    request: Request, conn: Any, visit: Visit, target: str, call: Any, notice: str
) -> Response:
    try:
        await call
    except ServiceProblem as problem:
        return await _page(
            request,
            conn,
            visit,
            status=problem.status if 400 <= problem.status < 500 else 422,
            refusal=Refusal.of(problem),
            refused_id=target,
        )
    return RedirectResponse(f"/a-valider?ok={notice}", status_code=303)


@router.post("/a-valider/cessations/{termination_id}/approuver")
async def approve_cessation(
    termination_id: uuid.UUID, request: Request, conn: Tx, visit: GuardedForm, note: Note = ""
) -> Response:
    svc = services_for(request, visit)
    call = svc.contracts.approve_termination(termination_id, note.strip())
    return await _decide(request, conn, visit, str(termination_id), call, "termination_approved")


@router.post("/a-valider/cessations/{termination_id}/rejeter")
async def reject_cessation(
    termination_id: uuid.UUID, request: Request, conn: Tx, visit: GuardedForm, note: Note = ""
) -> Response:
    svc = services_for(request, visit)
    call = svc.contracts.reject_termination(termination_id, note.strip())
    return await _decide(request, conn, visit, str(termination_id), call, "termination_rejected")


@router.post("/a-valider/avoirs/{approval_id}/approuver")
async def approve_credit(
    approval_id: uuid.UUID, request: Request, conn: Tx, visit: GuardedForm, note: Note = ""
) -> Response:
    svc = services_for(request, visit)
    call = svc.billing.approve(approval_id, note.strip())
    return await _decide(request, conn, visit, str(approval_id), call, "credit_approved")


@router.post("/a-valider/avoirs/{approval_id}/rejeter")
async def reject_credit(
    approval_id: uuid.UUID, request: Request, conn: Tx, visit: GuardedForm, note: Note = ""
) -> Response:
    svc = services_for(request, visit)
    call = svc.billing.reject(approval_id, note.strip())
    return await _decide(request, conn, visit, str(approval_id), call, "credit_rejected")
