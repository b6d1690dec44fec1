"""Cabinets: the list with its search, a practice's page and everything done from it (issue 12).

Everything is read and changed through contracts-svc (and billing, licence, backup for what
they hold about the practice) as the signed-in operator. A refusal is shown on the practice's
page next to what caused it, with the operator's input kept in the form (status 422 or the
service's own). The live part (invoices, licences, backup plan) follows the practice's events
(server-sent events of the Événements feed) and refreshes itself without reloading.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import date, datetime, time
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from prisme_chassis import clock
from prisme_chassis.app import Tx
from prisme_chassis.clock import REUNION

from ..clients import Json, ServiceProblem, Services
from . import labels
from .deps import GuardedForm, SignedIn, Visit, services_for
from .render import NOTICES, fragment, page
from .service_pages import (
    NO_PAGE,
    Refusal,
    Svc,
    form_values,
    operator_names,
    optional,
    text,
    upload,
    whole,
)

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
#: B6: an invoice or credit note number typed in the search box
DOCUMENT_NUMBER = re.compile(r"^\s*[FA]\d{4}-\d{1,6}\s*$", re.IGNORECASE)

NOTICES.update(
    practice_created="Le cabinet est créé. Déclarez son réseau, ses équipements et ses utilisateurs.",
    identity_saved="La fiche du cabinet est corrigée.",
    user_added="L'utilisateur est ajouté (avenant enregistré si un contrat est actif).",
    user_removed="L'utilisateur est retiré.",
    network_saved="Le réseau est enregistré.",
    asset_added="L'équipement est ajouté (avenant enregistré si un contrat est actif).",
    asset_changed="L'équipement est modifié.",
    asset_removed="L'équipement est retiré.",
    override_saved="La dérogation est enregistrée (motif conservé au journal).",
    contract_created="Le contrat est créé en brouillon.",
    contract_activated="Le contrat est activé.",
    contract_renewed="Le renouvellement est créé en brouillon pour l'année suivante.",
    termination_requested="La demande de cessation est envoyée : un autre opérateur doit la valider.",
)
#: what a list of billing-svc reads as when the operator may not see it


def practice_url(client_id: uuid.UUID | str) -> str:
    return f"/cabinets/{client_id}"


# --- the list -------------------------------------------------------------------------------


@router.get("/cabinets")
async def practice_list(
    request: Request,
    visit: SignedIn,
    svc: Svc,
    q: Annotated[str | None, Query(max_length=200)] = None,
    cursor: Annotated[str | None, Query(alias="curseur", max_length=200)] = None,
    page_number: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
) -> Response:
    """Server-side pages of 50 (« Page suivante » follows contracts-svc's cursor); the search
    finds name, SIREN, city, a user's e-mail, and an invoice number (then the practice it was
    issued to)."""
    query = (q or "").strip()
    page_number = page_number if cursor else 1
    found_by_invoice: Json | None = None
    found: Json = {"items": [], "next_cursor": None}
    gone = None
    if query and DOCUMENT_NUMBER.match(query):
        by_number, _ = await optional(svc.billing.invoices(number=query, limit=1), NO_PAGE)
        if by_number["items"]:
            found_by_invoice = by_number["items"][0]
            found = await svc.contracts.clients_page(
                ids=[uuid.UUID(found_by_invoice["client_id"])], limit=PAGE_SIZE
            )
    else:
        try:
            found = await svc.contracts.clients_page(
                q=query or None, limit=PAGE_SIZE, cursor=cursor
            )
        except ServiceProblem as problem:
            if problem.status != 422 or not cursor:
                raise
            gone = "Cette page n'existe plus : revenez à la première page."
    return page(
        request,
        "practices.html",
        practices=found["items"],
        q=query,
        page_number=page_number,
        next_cursor=found["next_cursor"],
        gone=gone,
        found_by_invoice=found_by_invoice,
    )


@router.get("/cabinets/nouveau")
async def practice_new(request: Request, visit: SignedIn) -> Response:
    return page(request, "practice_new.html", values={}, refusal=Refusal())


@router.post("/cabinets")
async def practice_create(request: Request, visit: GuardedForm) -> Response:
    form = await request.form()
    svc = services_for(request, visit)
    body = {
        "name": text(form, "name"),
        "siren": text(form, "siren"),
        "manager": {
            "name": text(form, "manager.name"),
            "email": text(form, "manager.email"),
            "phone": text(form, "manager.phone"),
        },
        "address": {
            "line1": text(form, "address.line1"),
            "postal_code": text(form, "address.postal_code"),
            "city": text(form, "address.city"),
        },
    }
    try:
        created = await svc.contracts.create_client(body)
    except ServiceProblem as problem:
        return page(
            request,
            "practice_new.html",
            status=problem.status if problem.status < 500 else 422,
            values=form_values(form),
            refusal=Refusal.of(problem),
        )
    return RedirectResponse(practice_url(created["id"]) + "?ok=practice_created", status_code=303)


# --- a practice's page ------------------------------------------------------------------------


async def _live(svc: Services, client_id: uuid.UUID) -> dict[str, Any]:
    """What other services hold about the practice: invoices, credit notes, licences, plans."""
    (
        (invoices, invoices_note),
        (credits, _),
        (accounts, accounts_note),
        (plans, plans_note),
    ) = await asyncio.gather(
        # the newest of each (billing-svc pages them): Facturation lists them all
        optional(svc.billing.invoices(client_id=client_id, newest_first=True), NO_PAGE),
        optional(svc.billing.credit_notes(client_id=client_id, newest_first=True), NO_PAGE),
        optional(svc.licence.accounts(client_id=client_id), []),
        optional(svc.backup.plans(client_id=client_id), []),
    )
    return {
        "invoices": invoices["items"],
        "credit_notes": credits["items"],
        "more_documents": bool(invoices["next_cursor"] or credits["next_cursor"]),
        "accounts": accounts,
        "plans": plans,
        "invoices_note": invoices_note,
        "accounts_note": accounts_note,
        "plans_note": plans_note,
    }


def _waiting(contracts: list[Json], live: dict[str, Any]) -> bool:
    """An active contract whose effects are not all visible yet: keep refreshing."""
    active = [c for c in contracts if c["status"] == "active"]
    if not active:
        return False
    return not (
        (live["invoices"] or live["invoices_note"])
        and (live["accounts"] or live["accounts_note"])
        and (live["plans"] or live["plans_note"])
    )


def _timeline(
    audit: list[Json], live: dict[str, Any], names: dict[str, str]
) -> list[dict[str, Any]]:
    """Everything that happened to the practice, newest first, with who did it."""
    items: list[dict[str, Any]] = []
    for row in audit:
        items.append(
            {
                "at": row["at"],
                "what": labels.label(labels.AUDIT_ACTIONS, row["action"]),
                "who": names.get(row["actor"], row["actor"]),
                "detail": _audit_detail(row),
            }
        )
    for inv in live["invoices"]:
        items.append(
            {
                "at": inv["issue_date"],
                "what": f"Facture {inv['number']} émise",
                "who": "facturation",
                "detail": inv["total_ttc"],
                "money": True,
            }
        )
    for note in live["credit_notes"]:
        items.append(
            {
                "at": note["issue_date"],
                "what": f"Avoir {note['number']} émis",
                "who": "facturation",
                "detail": note["total_ttc"],
                "money": True,
            }
        )
    return sorted(items, key=lambda i: str(i["at"]), reverse=True)


def _audit_detail(row: Json) -> str:
    if row.get("reason"):
        return str(row["reason"])
    after = row.get("after") or {}
    if not isinstance(after, dict):
        return ""
    for key in ("name", "email", "reason", "note", "offer", "criterion"):
        value = after.get(key)
        if isinstance(value, str) and value:
            return value
    return ""


async def _practice_page(
    request: Request,
    conn: Any,
    visit: Visit,
    client_id: uuid.UUID,
    *,
    status: int = 200,
    refusal: Refusal | None = None,
    refused_form: str | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    svc = services_for(request, visit)
    client = await svc.contracts.get_client(client_id)  # an unknown practice: 404 here
    # the other reads at once (P7: two rounds one after the other were half the page's time)
    inventory, (terminated, audited, live, offers) = await asyncio.gather(
        asyncio.gather(
            svc.contracts.users(client_id),
            svc.contracts.network(client_id),
            svc.contracts.assets(client_id),
            svc.contracts.eligibility(client_id),
            svc.contracts.list_contracts(client_id=client_id),
        ),
        asyncio.gather(
            optional(svc.contracts.terminations(client_id=client_id), []),
            optional(
                svc.contracts.audit_trail({"client_id": str(client_id), "limit": 200}),
                {"items": []},
            ),
            _live(svc, client_id),
            svc.contracts.offers(),
        ),
    )
    users, network, assets, eligibility, contracts = inventory
    (terminations, _), (audit, _) = terminated, audited
    trail: list[Json] = audit.get("items", [])
    names = await operator_names(conn, [row["actor"] for row in trail if not row.get("actor_name")])
    names.update({r["actor"]: r["actor_name"] for r in trail if r.get("actor_name")})
    failures: dict[str, list[str]] = {}
    for failure in eligibility["failures"]:
        failures.setdefault(failure["criterion"], []).append(failure["detail"])
    overridden = {o["criterion"]: o for o in eligibility["overrides"]}
    pending = {t["contract_id"]: t for t in terminations if t["status"] == "pending"}
    workstations = [a for a in assets if a["kind"] != "peripheral"]
    return page(
        request,
        "practice.html",
        status=status,
        client=client,
        users=users,
        network=network,
        assets=assets,
        postes=len(workstations),
        peripherals=len(assets) - len(workstations),
        eligibility=eligibility,
        failures=failures,
        overridden=overridden,
        contracts=sorted(contracts, key=lambda c: (c["year"], c["created_at"]), reverse=True),
        pending_terminations=pending,
        terminations=terminations,
        offers=offers,
        live=live,
        waiting=_waiting(contracts, live),
        timeline=_timeline(trail, live, names),
        refusal=refusal or Refusal(),
        refused_form=refused_form,
        values=values or {},
        today=clock.today(),
    )


@router.get("/cabinets/{client_id}")
async def practice_page(
    client_id: uuid.UUID, request: Request, conn: Tx, visit: SignedIn
) -> Response:
    return await _practice_page(request, conn, visit, client_id)


@router.get("/cabinets/{client_id}/direct")
async def practice_live(client_id: uuid.UUID, request: Request, visit: SignedIn) -> Response:
    """The live part of the practice's page (swapped in by htmx on each of its events)."""
    svc = services_for(request, visit)
    contracts = await svc.contracts.list_contracts(client_id=client_id)
    live = await _live(svc, client_id)
    return fragment(
        request,
        "_practice_live.html",
        client={"id": str(client_id)},
        live=live,
        waiting=_waiting(contracts, live),
    )


async def _act(
    request: Request,
    conn: Any,
    visit: Visit,
    client_id: uuid.UUID,
    form_name: str,
    action: Any,
    notice: str,
) -> Response:
    """Run one action of the practice's page; on refusal, the page again with the messages
    beside the form ``form_name`` and the operator's input kept."""
    form = await request.form()
    try:
        await action(form)
    except ServiceProblem as problem:
        return await _practice_page(
            request,
            conn,
            visit,
            client_id,
            status=problem.status if 400 <= problem.status < 500 else 422,
            refusal=Refusal.of(problem),
            refused_form=form_name,
            values=form_values(form),
        )
    return RedirectResponse(f"{practice_url(client_id)}?ok={notice}#{form_name}", status_code=303)


@router.post("/cabinets/{client_id}/identite")
async def practice_identity(
    client_id: uuid.UUID, request: Request, conn: Tx, visit: GuardedForm
) -> Response:
    """C8: only what changed is sent (PATCH), so the audit shows exactly the correction."""
    svc = services_for(request, visit)

    async def save(form: Any) -> None:
        current = await svc.contracts.get_client(client_id)
        patch: Json = {}
        for key in ("name", "siren"):
            if text(form, key) != current[key]:
                patch[key] = text(form, key)
        for part, keys in (
            ("manager", ("name", "email", "phone")),
            ("address", ("line1", "postal_code", "city")),
        ):
            changed = {
                k: text(form, f"{part}.{k}")
                for k in keys
                if text(form, f"{part}.{k}") != current[part][k]
            }
            if changed:
                patch[part] = changed
        if patch:
            await svc.contracts.correct_client(client_id, patch)

    return await _act(request, conn, visit, client_id, "identite", save, "identity_saved")


@router.post("/cabinets/{client_id}/utilisateurs")
async def practice_add_user(
    client_id: uuid.UUID, request: Request, conn: Tx, visit: GuardedForm
) -> Response:
    svc = services_for(request, visit)

    async def add(form: Any) -> None:
        body: Json = {
            "first_name": text(form, "first_name"),
            "last_name": text(form, "last_name"),
            "email": text(form, "email"),
            "role": text(form, "role"),
        }
        if text(form, "note"):
            body["note"] = text(form, "note")
        await svc.contracts.add_user(client_id, body)

    return await _act(request, conn, visit, client_id, "utilisateurs", add, "user_added")


@router.post("/cabinets/{client_id}/utilisateurs/{user_id}/retirer")
async def practice_remove_user(
    client_id: uuid.UUID, user_id: uuid.UUID, request: Request, conn: Tx, visit: GuardedForm
) -> Response:
    svc = services_for(request, visit)

    async def remove(form: Any) -> None:
        await svc.contracts.remove_user(client_id, user_id, note=text(form, "note") or None)

    return await _act(request, conn, visit, client_id, "utilisateurs", remove, "user_removed")


@router.post("/cabinets/{client_id}/reseau")
async def practice_network(
    client_id: uuid.UUID, request: Request, conn: Tx, visit: GuardedForm
) -> Response:
    svc = services_for(request, visit)

    async def save(form: Any) -> None:
        await svc.contracts.put_network(
            client_id,
            {
                "lan_count": whole(form, "lan_count"),
                "download_mbps": whole(form, "download_mbps"),
                "upload_mbps": whole(form, "upload_mbps"),
            },
        )

    return await _act(request, conn, visit, client_id, "reseau", save, "network_saved")


def _asset_body(form: Any) -> Json:
    body: Json = {
        "name": text(form, "name"),
        "function": text(form, "function"),
        "kind": text(form, "kind"),
        "form": text(form, "form"),
        "os": text(form, "os"),
        "supplied_by": text(form, "supplied_by"),
    }
    if text(form, "partner"):
        body["partner"] = text(form, "partner")
    if text(form, "note"):
        body["note"] = text(form, "note")
    return body


@router.post("/cabinets/{client_id}/equipements")
async def practice_add_asset(
    client_id: uuid.UUID, request: Request, conn: Tx, visit: GuardedForm
) -> Response:
    svc = services_for(request, visit)

    async def add(form: Any) -> None:
        await svc.contracts.add_asset(client_id, _asset_body(form))

    return await _act(request, conn, visit, client_id, "equipements", add, "asset_added")


@router.post("/cabinets/{client_id}/equipements/{asset_id}")
async def practice_change_asset(
    client_id: uuid.UUID, asset_id: uuid.UUID, request: Request, conn: Tx, visit: GuardedForm
) -> Response:
    svc = services_for(request, visit)

    async def change(form: Any) -> None:
        await svc.contracts.change_asset(client_id, asset_id, _asset_body(form))

    return await _act(request, conn, visit, client_id, "equipements", change, "asset_changed")


@router.post("/cabinets/{client_id}/equipements/{asset_id}/retirer")
async def practice_remove_asset(
    client_id: uuid.UUID, asset_id: uuid.UUID, request: Request, conn: Tx, visit: GuardedForm
) -> Response:
    svc = services_for(request, visit)

    async def remove(form: Any) -> None:
        await svc.contracts.remove_asset(client_id, asset_id, note=text(form, "note") or None)

    return await _act(request, conn, visit, client_id, "equipements", remove, "asset_removed")


def _end_of_day(day: str) -> str | None:
    """An override valid « jusqu'au » a day: to the end of that day in Réunion."""
    if not day:
        return None
    try:
        chosen = date.fromisoformat(day)
    except ValueError:
        raise ServiceProblem(
            service="dashboard",
            status=422,
            type="about:blank",
            title="Date invalide",
            detail="La date de fin de la dérogation est invalide.",
            errors=[{"field": "expires_at", "detail": "Date invalide."}],
        ) from None
    return datetime.combine(chosen, time(23, 59, 59), tzinfo=REUNION).isoformat()


@router.post("/cabinets/{client_id}/derogation")
async def practice_override(
    client_id: uuid.UUID, request: Request, conn: Tx, visit: GuardedForm
) -> Response:
    """C3: override one failed criterion; contracts-svc requires the reason and audits it."""
    svc = services_for(request, visit)

    async def override(form: Any) -> None:
        await svc.contracts.override_eligibility(
            client_id,
            criterion=text(form, "criterion"),
            reason=text(form, "reason"),
            expires_at=_end_of_day(text(form, "expires_on")),
        )

    return await _act(request, conn, visit, client_id, "eligibilite", override, "override_saved")


@router.post("/cabinets/{client_id}/contrats")
async def practice_new_contract(
    client_id: uuid.UUID, request: Request, conn: Tx, visit: GuardedForm
) -> Response:
    svc = services_for(request, visit)

    async def create(form: Any) -> None:
        try:
            start = date.fromisoformat(text(form, "start_date"))
        except ValueError:
            raise ServiceProblem(
                service="dashboard",
                status=422,
                type="about:blank",
                title="Date de début invalide",
                detail="Indiquez la date de début du contrat (jj/mm/aaaa).",
                errors=[{"field": "start_date", "detail": "Date de début invalide."}],
            ) from None
        await svc.contracts.create_contract(
            client_id=client_id, offer=text(form, "offer"), start_date=start
        )

    return await _act(request, conn, visit, client_id, "contrats", create, "contract_created")


@router.post("/cabinets/{client_id}/contrats/{contract_id}/activer")
async def practice_activate(
    client_id: uuid.UUID, contract_id: uuid.UUID, request: Request, conn: Tx, visit: GuardedForm
) -> Response:
    """C2/C3: a refusal lists every failed criterion, each beside the part it concerns."""
    svc = services_for(request, visit)

    async def activate(form: Any) -> None:
        await svc.contracts.activate(contract_id)

    return await _act(request, conn, visit, client_id, "contrats", activate, "contract_activated")


@router.post("/cabinets/{client_id}/contrats/{contract_id}/renouveler")
async def practice_renew(
    client_id: uuid.UUID, contract_id: uuid.UUID, request: Request, conn: Tx, visit: GuardedForm
) -> Response:
    """One click from the old contract: next year's draft, same offer unless another is chosen."""
    svc = services_for(request, visit)

    async def renew(form: Any) -> None:
        await svc.contracts.renew(contract_id, text(form, "offer") or None)

    return await _act(request, conn, visit, client_id, "contrats", renew, "contract_renewed")


@router.post("/cabinets/{client_id}/contrats/{contract_id}/cessation")
async def practice_cessation(
    client_id: uuid.UUID, contract_id: uuid.UUID, request: Request, conn: Tx, visit: GuardedForm
) -> Response:
    """C6: the request with the official document (PDF, JPEG or PNG); four eyes decide it."""
    svc = services_for(request, visit)

    async def request_cessation(form: Any) -> None:
        document = upload(form, "document")
        problems: list[Json] = []
        if document is None:
            problems.append({"field": "document", "detail": "Joignez le document officiel."})
        try:
            effective = date.fromisoformat(text(form, "effective_date"))
        except ValueError:
            problems.append({"field": "effective_date", "detail": "Date d'effet invalide."})
        if problems or document is None:
            raise ServiceProblem(
                service="dashboard",
                status=422,
                type="about:blank",
                title="Demande incomplète",
                detail="La demande de cessation n'est pas complète.",
                errors=problems,
            )
        data = await document.read()
        await svc.contracts.request_termination(
            contract_id,
            reason="cessation",
            effective_date=effective,
            document=data,
            filename=document.filename or "document.pdf",
            media_type=document.content_type or "application/octet-stream",
        )

    return await _act(
        request, conn, visit, client_id, "contrats", request_cessation, "termination_requested"
    )
