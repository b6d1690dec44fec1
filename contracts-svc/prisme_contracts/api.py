"""HTTP routes of contracts-svc (DESIGN.md §4). Each route is one use-case call.

The edge owns the transaction (``Tx``), except the year-end run which commits batch by batch.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Path, Query, Request, Response, UploadFile
from prisme_chassis import audit, clock
from prisme_chassis.app import Read, Tx
from prisme_chassis.audit import Actor
from prisme_chassis.auth import Principal, require_scopes
from prisme_chassis.errors import problems
from prisme_chassis.wire import IsoDate, rfc3339_text
from pydantic import BeforeValidator

from . import (
    catalogue,
    cessation,
    clients,
    domain,
    eligibility,
    errors,
    interventions,
    inventory,
    service,
    year_end,
)
from .context import ContractsRuntimeDep, contracts_runtime
from .errors import InvalidField, PartnerNotListed
from .schemas import (
    AmendmentIn,
    AmendmentOut,
    AssetChanged,
    AssetOut,
    ClientOut,
    ClientPatch,
    ContractOut,
    Criterion,
    DecisionIn,
    EligibilityOut,
    InterventionIn,
    InterventionOut,
    InterventionPage,
    LevelIn,
    LevelOut,
    LevelPatch,
    NetworkIn,
    NetworkOut,
    NewAsset,
    NewClient,
    NewContract,
    NewUser,
    OfferIn,
    OfferOut,
    OfferPatch,
    OverrideIn,
    PartnerIn,
    PartnerOut,
    PartnerServicesIn,
    Removed,
    RenewIn,
    Status,
    TerminationOut,
    UserChanged,
    UserOut,
    YearEndIn,
    YearEndOut,
    storable_text,
)

router = APIRouter(tags=["contracts"])

READ = "contracts:read"
WRITE = "contracts:write"
#: four eyes (O2): approving or rejecting is its own scope, apart from writing
APPROVE = "contracts:approve"
ADMIN = "admin"


def _actor(who: Principal, request: Request) -> Actor:
    return audit.actor_of(request, who)


def _amendment(effective_date: date | None, note: str | None) -> AmendmentIn:
    if note is not None and not storable_text(note):
        raise InvalidField("note must not contain NUL characters or unpaired surrogates")
    return AmendmentIn(effective_date=effective_date, note=note)


def _filename(name: str | None) -> str | None:
    """The uploaded file's name as given, made storable (it is only shown back, never used as a path)."""
    if name is None:
        return None
    cleaned = "".join(ch for ch in name if ch != "\x00").encode("utf-8", "replace").decode("utf-8")
    return cleaned[:255] or None


Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=2**62)]
Year = Annotated[int, Path(ge=2000, le=2999)]

# --- catalogue and partners ---------------------------------------------------------------


@router.get("/v1/offers")
async def list_offers(conn: Tx, who: Principal = require_scopes(READ)) -> list[OfferOut]:
    """C1: the offers and what each includes."""
    return await service.list_offers(conn)


@router.post(
    "/v1/offers",
    status_code=201,
    responses=problems(errors.UnknownCatalogueItems, errors.OfferExists),
)
async def create_offer(
    body: OfferIn, conn: Tx, request: Request, who: Principal = require_scopes(ADMIN)
) -> OfferOut:
    """C1 as data (admin): a new offer and the catalogue items it includes."""
    return await catalogue.create_offer(conn, body, _actor(who, request))


@router.patch(
    "/v1/offers/{code}", responses=problems(errors.OfferNotFound, errors.UnknownCatalogueItems)
)
async def update_offer(
    code: Annotated[str, Path(max_length=50)],
    body: OfferPatch,
    conn: Tx,
    request: Request,
    who: Principal = require_scopes(ADMIN),
) -> OfferOut:
    """C1 (admin): what an offer includes; applies to contract events from now on."""
    return await catalogue.update_offer(conn, code, body, _actor(who, request))


@router.get("/v1/levels")
async def list_levels(conn: Tx, who: Principal = require_scopes(READ)) -> list[LevelOut]:
    """The maintenance levels ("niveau de prise en charge"); the price depends on them (B1)."""
    return await catalogue.list_levels(conn)


@router.post("/v1/levels", status_code=201, responses=problems(errors.LevelExists))
async def create_level(
    body: LevelIn, conn: Tx, request: Request, who: Principal = require_scopes(ADMIN)
) -> LevelOut:
    return await catalogue.create_level(conn, body, _actor(who, request))


@router.patch(
    "/v1/levels/{code}", responses=problems(errors.LevelNotFound, errors.DefaultLevelRequired)
)
async def update_level(
    code: Annotated[str, Path(max_length=50)],
    body: LevelPatch,
    conn: Tx,
    request: Request,
    who: Principal = require_scopes(ADMIN),
) -> LevelOut:
    return await catalogue.update_level(conn, code, body, _actor(who, request))


@router.get("/v1/partners")
async def list_partners(conn: Tx, who: Principal = require_scopes(READ)) -> list[PartnerOut]:
    """C3: the listed partners and the services each provides."""
    return await clients.list_partners(conn)


@router.post(
    "/v1/partners", status_code=201, responses=problems(errors.PartnerListed, errors.InvalidField)
)
async def add_partner(
    body: PartnerIn, conn: Tx, request: Request, who: Principal = require_scopes(WRITE)
) -> PartnerOut:
    return await clients.add_partner(conn, body.name, body.services, _actor(who, request))


@router.put("/v1/partners/{name}/services", responses=problems(errors.PartnerNotListed))
async def set_partner_services(
    name: Annotated[str, Path(max_length=200)],
    body: PartnerServicesIn,
    conn: Tx,
    request: Request,
    who: Principal = require_scopes(WRITE),
) -> PartnerOut:
    if not storable_text(name):
        raise errors.PartnerNotListed(f"partner {name!r} is not listed")
    return await clients.set_partner_services(conn, name, body.services, _actor(who, request))


@router.delete("/v1/partners/{name}", status_code=204, responses=problems(errors.PartnerNotListed))
async def remove_partner(
    name: str, conn: Tx, request: Request, who: Principal = require_scopes(WRITE)
) -> None:
    if not storable_text(name):
        raise PartnerNotListed(f"partner {name!r} is not listed")
    await clients.remove_partner(conn, name, _actor(who, request))


# --- clients --------------------------------------------------------------------------------


@router.post("/v1/clients", status_code=201, responses=problems(errors.InvalidField))
async def create_client(
    body: NewClient, conn: Tx, request: Request, who: Principal = require_scopes(WRITE)
) -> ClientOut:
    return await clients.create_client(conn, body, _actor(who, request))


@router.get("/v1/clients")
async def list_clients(
    conn: Read,
    limit: Limit = 100,
    offset: Offset = 0,
    q: Annotated[
        str | None,
        Query(
            max_length=200,
            description="Finds a practice by name, SIREN, city or a user's e-mail "
            "(case-insensitive, anywhere in the text; SIREN by its first digits)",
        ),
    ] = None,
    id: Annotated[
        list[uuid.UUID] | None, Query(max_length=200, description="Only these practices")
    ] = None,
    who: Principal = require_scopes(READ),
) -> list[ClientOut]:
    if q is not None and not storable_text(q):
        raise InvalidField("q must not contain NUL characters or unpaired surrogates")
    return await clients.list_clients(conn, limit, offset, q=q, ids=id)


@router.get("/v1/clients/{client_id}", responses=problems(errors.ClientNotFound))
async def get_client(
    client_id: uuid.UUID, conn: Tx, who: Principal = require_scopes(READ)
) -> ClientOut:
    return await clients.get_client(conn, client_id)


@router.patch(
    "/v1/clients/{client_id}", responses=problems(errors.ClientNotFound, errors.InvalidField)
)
async def correct_client(
    client_id: uuid.UUID,
    body: ClientPatch,
    conn: Tx,
    request: Request,
    who: Principal = require_scopes(WRITE),
) -> ClientOut:
    """C8: correct the practice's identity (audited; re-checks C3 on a new postal code)."""
    return await clients.correct_client(conn, client_id, body, _actor(who, request))


@router.post(
    "/v1/clients/{client_id}/users",
    status_code=201,
    responses=problems(errors.ClientNotFound, errors.InvalidField, errors.UserEmailTaken),
)
async def add_user(
    client_id: uuid.UUID,
    body: NewUser,
    conn: Tx,
    request: Request,
    who: Principal = require_scopes(WRITE),
) -> UserChanged:
    return await inventory.add_user(conn, client_id, body, _actor(who, request), clock.today())


@router.get("/v1/clients/{client_id}/users", responses=problems(errors.ClientNotFound))
async def list_users(
    client_id: uuid.UUID, conn: Tx, who: Principal = require_scopes(READ)
) -> list[UserOut]:
    return await inventory.list_users(conn, client_id)


@router.put(
    "/v1/clients/{client_id}/users/{user_id}",
    responses=problems(
        errors.ClientNotFound, errors.InvalidField, errors.UserNotFound, errors.UserEmailTaken
    ),
)
async def change_user(
    client_id: uuid.UUID,
    user_id: uuid.UUID,
    body: NewUser,
    conn: Tx,
    request: Request,
    who: Principal = require_scopes(WRITE),
) -> UserChanged:
    return await inventory.change_user(
        conn, client_id, user_id, body, _actor(who, request), clock.today()
    )


@router.delete(
    "/v1/clients/{client_id}/users/{user_id}",
    responses=problems(errors.ClientNotFound, errors.InvalidField, errors.UserNotFound),
)
async def remove_user(
    client_id: uuid.UUID,
    user_id: uuid.UUID,
    conn: Tx,
    request: Request,
    effective_date: IsoDate | None = None,
    note: Annotated[str | None, Query(max_length=2000)] = None,
    who: Principal = require_scopes(WRITE),
) -> Removed:
    return await inventory.remove_user(
        conn,
        client_id,
        user_id,
        _amendment(effective_date, note),
        _actor(who, request),
        clock.today(),
    )


@router.put(
    "/v1/clients/{client_id}/network",
    responses=problems(errors.ClientNotFound, errors.InvalidField),
)
async def put_network(
    client_id: uuid.UUID,
    body: NetworkIn,
    conn: Tx,
    request: Request,
    who: Principal = require_scopes(WRITE),
) -> NetworkOut:
    return await clients.put_network(conn, client_id, body, _actor(who, request))


@router.get(
    "/v1/clients/{client_id}/network",
    responses=problems(errors.ClientNotFound, errors.NetworkNotDeclared),
)
async def get_network(
    client_id: uuid.UUID, conn: Tx, who: Principal = require_scopes(READ)
) -> NetworkOut:
    return await clients.get_network(conn, client_id)


@router.post(
    "/v1/clients/{client_id}/assets",
    status_code=201,
    responses=problems(errors.ClientNotFound, errors.InvalidField, errors.AssetNameTaken),
)
async def add_asset(
    client_id: uuid.UUID,
    body: NewAsset,
    conn: Tx,
    request: Request,
    who: Principal = require_scopes(WRITE),
) -> AssetChanged:
    return await inventory.add_asset(conn, client_id, body, _actor(who, request), clock.today())


@router.get("/v1/clients/{client_id}/assets", responses=problems(errors.ClientNotFound))
async def list_assets(
    client_id: uuid.UUID, conn: Tx, who: Principal = require_scopes(READ)
) -> list[AssetOut]:
    return await inventory.list_assets(conn, client_id)


@router.put(
    "/v1/clients/{client_id}/assets/{asset_id}",
    responses=problems(
        errors.ClientNotFound, errors.InvalidField, errors.AssetNotFound, errors.AssetNameTaken
    ),
)
async def change_asset(
    client_id: uuid.UUID,
    asset_id: uuid.UUID,
    body: NewAsset,
    conn: Tx,
    request: Request,
    who: Principal = require_scopes(WRITE),
) -> AssetChanged:
    return await inventory.change_asset(
        conn, client_id, asset_id, body, _actor(who, request), clock.today()
    )


@router.delete(
    "/v1/clients/{client_id}/assets/{asset_id}",
    responses=problems(errors.ClientNotFound, errors.InvalidField, errors.AssetNotFound),
)
async def remove_asset(
    client_id: uuid.UUID,
    asset_id: uuid.UUID,
    conn: Tx,
    request: Request,
    effective_date: IsoDate | None = None,
    note: Annotated[str | None, Query(max_length=2000)] = None,
    who: Principal = require_scopes(WRITE),
) -> Removed:
    return await inventory.remove_asset(
        conn,
        client_id,
        asset_id,
        _amendment(effective_date, note),
        _actor(who, request),
        clock.today(),
    )


# --- eligibility (C3/C4) ------------------------------------------------------------------


@router.get("/v1/clients/{client_id}/eligibility", responses=problems(errors.ClientNotFound))
async def get_eligibility(
    client_id: uuid.UUID, conn: Tx, who: Principal = require_scopes(READ)
) -> EligibilityOut:
    return await eligibility.get(conn, client_id)


@router.post("/v1/clients/{client_id}/eligibility/check", responses=problems(errors.ClientNotFound))
async def recheck_eligibility(
    client_id: uuid.UUID, conn: Tx, request: Request, who: Principal = require_scopes(WRITE)
) -> EligibilityOut:
    """Re-check now; active contracts whose conformity changed are flagged (C4) and published."""
    return await eligibility.recheck(conn, client_id, _actor(who, request))


@router.post(
    "/v1/clients/{client_id}/eligibility/override",
    status_code=201,
    responses=problems(
        errors.ClientNotFound,
        errors.OverrideExpiryPassed,
        errors.OverrideNotNeeded,
        errors.OverrideExists,
    ),
)
async def override_eligibility(
    client_id: uuid.UUID,
    body: OverrideIn,
    conn: Tx,
    request: Request,
    who: Principal = require_scopes(WRITE),
) -> EligibilityOut:
    """C3: override one failed criterion, with a reason and an optional expiry."""
    return await eligibility.record_override(
        conn,
        client_id,
        body.criterion,
        body.reason,
        body.expires_at,
        _actor(who, request),
        clock.now(),
    )


@router.delete(
    "/v1/clients/{client_id}/eligibility/override",
    responses=problems(errors.ClientNotFound, errors.OverrideNotFound),
)
async def revoke_override(
    client_id: uuid.UUID,
    criterion: Annotated[Criterion, Query()],
    conn: Tx,
    request: Request,
    who: Principal = require_scopes(WRITE),
) -> EligibilityOut:
    return await eligibility.revoke_override(conn, client_id, criterion, _actor(who, request))


# --- interventions (C7) -------------------------------------------------------------------


@router.post(
    "/v1/clients/{client_id}/interventions",
    status_code=201,
    responses=problems(errors.ClientNotFound, errors.InvalidIntervention),
)
async def record_intervention(
    client_id: uuid.UUID,
    body: InterventionIn,
    conn: Tx,
    request: Request,
    who: Principal = require_scopes(WRITE),
) -> InterventionOut:
    """C7: a remote or on-site intervention; billable items go to billing (B9)."""
    return await interventions.record(conn, client_id, body, _actor(who, request), clock.now())


@router.get("/v1/interventions", responses=problems(errors.InvalidCursor, errors.InvalidField))
async def list_interventions(
    conn: Tx,
    client_id: uuid.UUID | None = None,
    since: Annotated[
        datetime | None, BeforeValidator(rfc3339_text), Query(description="Started at or after")
    ] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Limit = 100,
    who: Principal = require_scopes(READ),
) -> InterventionPage:
    if since is not None and since.tzinfo is None:
        raise InvalidField(
            "since doit porter un fuseau horaire",
            errors=[{"field": "since", "detail": "e.g. 2026-03-01T00:00:00+04:00"}],
        )
    return await interventions.list_page(
        conn, client_id=client_id, since=since, cursor=cursor, limit=limit
    )


# --- contracts (C2) -----------------------------------------------------------------------


@router.post(
    "/v1/contracts",
    status_code=201,
    responses=problems(
        errors.UnknownLevel,
        errors.UnknownOffer,
        errors.UnknownClient,
        errors.StartDateOutOfRange,
        errors.ContractExistsForYear,
    ),
)
async def create_contract(
    body: NewContract, conn: Tx, request: Request, who: Principal = require_scopes(WRITE)
) -> ContractOut:
    return await service.create_contract(conn, body, _actor(who, request), clock.today())


@router.get("/v1/contracts")
async def list_contracts(
    conn: Tx,
    client_id: uuid.UUID | None = None,
    status: Status | None = None,
    year: Annotated[int | None, Query(ge=2000, le=2999)] = None,
    non_conforming: bool | None = None,
    offer: Annotated[str | None, Query(max_length=50, pattern=r"^[a-z0-9_]+$")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
    who: Principal = require_scopes(READ),
) -> list[ContractOut]:
    """Contracts, oldest first; ``non_conforming=true`` lists those flagged under C4."""
    return await service.list_contracts(
        conn,
        client_id=client_id,
        status=status,
        year=year,
        non_conforming=non_conforming,
        offer=offer,
        limit=limit,
        offset=offset,
    )


@router.get("/v1/contracts/{contract_id}", responses=problems(errors.ContractNotFound))
async def get_contract(
    contract_id: uuid.UUID, conn: Tx, who: Principal = require_scopes(READ)
) -> ContractOut:
    return await service.get(conn, contract_id)


@router.post(
    "/v1/contracts/{contract_id}/activate",
    responses=problems(
        errors.ContractNotFound,
        errors.ChangedMeanwhile,
        errors.NotADraft,
        errors.YearClosed,
        errors.YearOver,
        errors.NotEligible,
        errors.OfferUnpriced,
        errors.BillingUnavailable,
        errors.ContractExistsForYear,
        errors.UnknownOffer,
    ),
)
async def activate(
    contract_id: uuid.UUID, conn: Tx, request: Request, who: Principal = require_scopes(WRITE)
) -> ContractOut:
    return await service.activate(
        conn,
        contract_id,
        _actor(who, request),
        clock.now(),
        price_check=contracts_runtime(request).context.price_check,
    )


@router.post(
    "/v1/contracts/{contract_id}/renew",
    status_code=201,
    responses=problems(
        errors.ContractNotFound,
        errors.NotRenewable,
        errors.YearOver,
        errors.ContractExistsForYear,
        errors.UnknownOffer,
    ),
)
async def renew(
    contract_id: uuid.UUID,
    conn: Tx,
    request: Request,
    body: RenewIn | None = None,
    who: Principal = require_scopes(WRITE),
) -> ContractOut:
    return await service.renew(
        conn,
        contract_id,
        body.offer if body else None,
        _actor(who, request),
        clock.today(),
    )


@router.post(
    "/v1/contracts/{contract_id}/cancel",
    responses=problems(errors.ContractNotFound, errors.NotADraft),
)
async def cancel(
    contract_id: uuid.UUID, conn: Tx, request: Request, who: Principal = require_scopes(WRITE)
) -> ContractOut:
    return await service.cancel(conn, contract_id, _actor(who, request), clock.now())


@router.get("/v1/contracts/{contract_id}/amendments", responses=problems(errors.ContractNotFound))
async def list_amendments(
    contract_id: uuid.UUID, conn: Tx, who: Principal = require_scopes(READ)
) -> list[AmendmentOut]:
    return await service.amendments(conn, contract_id)


# --- cessation (C6) -------------------------------------------------------------------------


@router.post(
    "/v1/contracts/{contract_id}/terminations",
    status_code=201,
    responses=problems(
        errors.ContractNotFound,
        errors.ContractNotActive,
        errors.TerminationReasonRefused,
        errors.EffectiveDateOutOfRange,
        errors.TerminationPending,
        errors.DocumentTooLarge,
        errors.DocumentTypeRefused,
        errors.InvalidField,
    ),
)
async def request_termination(
    contract_id: uuid.UUID,
    conn: Tx,
    request: Request,
    # min_length: FastAPI reads an empty form field as a missing one (a 422 either way)
    reason: Annotated[str, Form(min_length=1, max_length=50)],
    effective_date: Annotated[IsoDate, Form()],
    document: Annotated[
        UploadFile, File(description="Official proof of cessation: PDF, JPEG or PNG, ≤ 10 MB")
    ],
    who: Principal = require_scopes(WRITE),
) -> TerminationOut:
    data = await document.read(domain.MAX_DOCUMENT_BYTES + 1)
    return await cessation.request(
        conn,
        contract_id,
        reason=reason,
        effective_date=effective_date,
        document=data,
        document_name=_filename(document.filename),
        actor=_actor(who, request),
        today=clock.today(),
        keyring=contracts_runtime(request).context.documents,
    )


@router.get("/v1/terminations")
async def list_terminations(
    conn: Tx,
    status: Literal["pending", "approved", "rejected", "withdrawn"] | None = None,
    contract_id: uuid.UUID | None = None,
    client_id: uuid.UUID | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
    who: Principal = require_scopes(READ),
) -> list[TerminationOut]:
    """C6/O2: cessation requests, oldest first; ``status=pending`` is the four-eyes queue."""
    return await cessation.list_requests(
        conn,
        status=status,
        contract_id=contract_id,
        client_id=client_id,
        limit=limit,
        offset=offset,
    )


@router.get("/v1/terminations/{termination_id}", responses=problems(errors.TerminationNotFound))
async def get_termination(
    termination_id: uuid.UUID, conn: Tx, who: Principal = require_scopes(READ)
) -> TerminationOut:
    return await cessation.get(conn, termination_id)


@router.get(
    "/v1/terminations/{termination_id}/document",
    response_class=Response,
    responses=problems(errors.TerminationNotFound),
)
async def get_termination_document(
    termination_id: uuid.UUID,
    conn: Tx,
    rt: ContractsRuntimeDep,
    who: Principal = require_scopes(READ),
) -> Response:
    data, media_type, _name = await cessation.document(conn, termination_id, rt.context.documents)
    return Response(
        content=data, media_type=media_type, headers={"Content-Disposition": "attachment"}
    )


@router.post(
    "/v1/terminations/{termination_id}/approve",
    responses=problems(
        errors.TerminationNotFound,
        errors.TerminationDecided,
        errors.SelfApproval,
        errors.ContractNotActive,
    ),
)
async def approve_termination(
    termination_id: uuid.UUID,
    body: DecisionIn,
    conn: Tx,
    request: Request,
    who: Principal = require_scopes(APPROVE),
) -> TerminationOut:
    """C6/O2: another operator approves; a future effective date schedules the ending."""
    return await cessation.approve(
        conn, termination_id, _actor(who, request), body.note, clock.now()
    )


@router.post(
    "/v1/terminations/{termination_id}/reject",
    responses=problems(errors.TerminationNotFound, errors.TerminationDecided, errors.SelfApproval),
)
async def reject_termination(
    termination_id: uuid.UUID,
    body: DecisionIn,
    conn: Tx,
    request: Request,
    who: Principal = require_scopes(APPROVE),
) -> TerminationOut:
    """C6/O2: another operator rejects; the contract is free for a new request."""
    return await cessation.reject(
        conn, termination_id, _actor(who, request), body.note, clock.now()
    )


@router.post(
    "/v1/terminations/{termination_id}/withdraw",
    responses=problems(
        errors.TerminationNotFound, errors.TerminationDecided, errors.NotTheRequester
    ),
)
async def withdraw_termination(
    termination_id: uuid.UUID, conn: Tx, request: Request, who: Principal = require_scopes(WRITE)
) -> TerminationOut:
    """C6: the requester withdraws a pending request."""
    return await cessation.withdraw(conn, termination_id, _actor(who, request), clock.now())


# --- year-end (C2) ---------------------------------------------------------------------------


@router.post("/v1/year-end", responses=problems(errors.YearNotOver, errors.YearEndLocked))
async def run_year_end(
    body: YearEndIn,
    rt: ContractsRuntimeDep,
    request: Request,
    who: Principal = require_scopes(WRITE),
) -> YearEndOut:
    """End every active contract of ``year`` (idempotent; commits batch by batch)."""
    batch = rt.settings.year_end_batch_size
    return await year_end.run(
        rt.pool, body.year, _actor(who, request), clock.now(), batch_size=batch
    )


@router.get("/v1/year-end/{year}")
async def year_end_progress(
    year: int, conn: Tx, who: Principal = require_scopes(READ)
) -> YearEndOut:
    return await year_end.progress(conn, year)
