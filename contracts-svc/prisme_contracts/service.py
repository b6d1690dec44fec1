"""Contract lifecycle use cases (C1–C3): create, activate, renew, cancel, read.

Cessation (C6) lives in ``cessation.py``, the year-end run (C2) in ``year_end.py``, inventory
changes and amendments (C5) in ``inventory.py``.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

import asyncpg
from prisme_chassis import audit, pagination
from prisme_chassis.audit import Actor
from prisme_chassis.bus import enqueue
from prisme_chassis.clock import business_day
from prisme_events import ContractActivated, ContractCancelled

from . import domain, eligibility, errors
from . import repository as repo
from .errors import (
    ChangedMeanwhile,
    ContractExistsForYear,
    ContractNotFound,
    NotADraft,
    NotEligible,
    NotRenewable,
    StartDateOutOfRange,
    UnknownClient,
    UnknownOffer,
    YearClosed,
    YearOver,
)
from .facts import (
    amendment_out,
    asset_views,
    client_snapshot,
    contract_audit,
    contract_out,
    contract_user,
    event_id,
)
from .price_check import PriceCheck
from .schemas import AmendmentOut, ContractOut, NewContract


async def _level(conn: asyncpg.Connection, code: str | None) -> str:
    """The maintenance level asked for, or the default one (PRISME's published price, B1)."""
    if code is None:
        return await repo.default_level(conn)
    if await repo.get_level(conn, code) is None:
        known = [r["code"] for r in await repo.list_levels(conn)]
        raise errors.UnknownLevel(
            f"niveau de maintenance inconnu {code!r}",
            errors=[{"field": "level", "detail": f"known levels: {known}"}],
        )
    return code


async def _offer(conn: asyncpg.Connection, code: str) -> asyncpg.Record:
    offer = await repo.get_offer(conn, code)
    if offer is None:
        known = [r["code"] for r in await repo.list_offers(conn)]
        raise UnknownOffer(
            f"unknown offer {code!r}",
            errors=[{"field": "offer", "detail": f"known offers: {known}"}],
        )
    return offer


async def _contract(
    conn: asyncpg.Connection, contract_id: uuid.UUID, *, lock: bool = False
) -> asyncpg.Record:
    row = await repo.get_contract(conn, contract_id, lock=lock)
    if row is None:
        raise ContractNotFound(f"contract {contract_id} not found")
    return row


async def _out(conn: asyncpg.Connection, row: asyncpg.Record) -> ContractOut:
    offer = await repo.get_offer(conn, row["offer"])
    return contract_out(row, [] if offer is None else offer["includes"])


async def _insert_draft(
    conn: asyncpg.Connection,
    *,
    client_id: uuid.UUID,
    offer: str,
    start_date: date,
    renewal_of: uuid.UUID | None,
    level: str,
    actor: Actor,
) -> asyncpg.Record:
    try:
        row = await repo.insert_contract(
            conn,
            {
                "id": uuid.uuid4(),
                "client_id": client_id,
                "offer": offer,
                "year": start_date.year,
                "start_date": start_date,
                "end_date": domain.end_of_year(start_date.year),
                "renewal_of": renewal_of,
                "created_by": actor.sub,
                "level": level,
            },
        )
    except asyncpg.UniqueViolationError as exc:
        raise ContractExistsForYear(
            f"the client already has a draft or active contract for {start_date.year}",
        ) from exc
    await audit.record(
        conn,
        actor,
        "contract.created",
        target_type="contract",
        target_id=row["id"],
        client_id=client_id,
        after={**contract_audit(row), "renewal_of": renewal_of},
    )
    return row


async def create_contract(
    conn: asyncpg.Connection, body: NewContract, actor: Actor, today: date
) -> ContractOut:
    """C2: a draft for the calendar year of ``start_date``, ending on 31 December."""
    await _offer(conn, body.offer)
    if await repo.get_client(conn, body.client_id, lock=True) is None:
        raise UnknownClient(
            f"client {body.client_id} not found",
            errors=[{"field": "client_id", "detail": "unknown client"}],
        )
    if not today.year <= body.start_date.year <= today.year + 1:
        raise StartDateOutOfRange(
            f"start date {body.start_date} is outside the current and the next calendar year",
            errors=[
                {
                    "field": "start_date",
                    "detail": "a contract covers the current or the next calendar year",
                }
            ],
        )
    existing = await repo.renewal_for(conn, body.client_id, body.start_date.year)
    if existing is not None:
        raise ContractExistsForYear(
            f"the client already has a {existing['status']} contract for {body.start_date.year}",
            contract_id=existing["id"],
        )
    row = await _insert_draft(
        conn,
        client_id=body.client_id,
        offer=body.offer,
        start_date=body.start_date,
        renewal_of=None,
        level=await _level(conn, body.level),
        actor=actor,
    )
    return await _out(conn, row)


async def activate(
    conn: asyncpg.Connection,
    contract_id: uuid.UUID,
    actor: Actor,
    now: datetime,
    *,
    price_check: PriceCheck | None = None,
) -> ContractOut:
    """C2/C3: check eligibility, then activate and publish ``contract.activated``.

    B1: billing is asked first whether the offer at the contract's level has a price, before
    any row is locked (no lock is held across the call); a refusal changes nothing.
    """
    checked = None
    if price_check is not None:
        draft = await _contract(conn, contract_id)
        checked = (draft["offer"], draft["level"])
        await price_check.ensure_priced(*checked)
    contract = await _contract(conn, contract_id, lock=True)
    if checked is not None and (contract["offer"], contract["level"]) != checked:
        raise ChangedMeanwhile("the contract's offer or level changed during activation; try again")
    if contract["status"] != "draft":
        raise NotADraft(
            f"contract is {contract['status']}, only a draft can be activated",
            status_now=contract["status"],
        )
    # Shared year lock: the year-end run takes it exclusively, so no activation slips into a closed year.
    await repo.lock_year_shared(conn, contract["year"])
    if await repo.get_year_end_run(conn, contract["year"]) is not None:
        raise YearClosed(f"year {contract['year']} is closed (year-end has run)")
    today = business_day(now)
    if contract["end_date"] < today:
        raise YearOver(f"year {contract['year']} is over; create a contract for {today.year}")
    offer = await _offer(conn, contract["offer"])
    # Lock the practice before judging it: an inventory change committed meanwhile would
    # otherwise be missed both here and by its own re-check (which saw a draft).
    client = await repo.get_client(conn, contract["client_id"], lock=True)
    assert client is not None
    result, overrides = await eligibility.evaluate(conn, contract["client_id"], now)
    used = eligibility.covered(overrides)
    failing = domain.uncovered(result, used)
    if failing:
        raise NotEligible(
            "the practice is not eligible (C3)",
            failures=[{"criterion": f.criterion, "detail": f.detail} for f in failing],
        )
    users = await repo.list_users(conn, contract["client_id"])
    views = asset_views(await repo.list_assets(conn, contract["client_id"]))
    updated = await repo.set_contract_state(
        conn, contract_id, status="active", activated_at=now, non_conforming=False
    )
    await audit.record(
        conn,
        actor,
        "contract.activated",
        target_type="contract",
        target_id=contract_id,
        client_id=contract["client_id"],
        before=contract_audit(contract),
        after={
            **contract_audit(updated),
            "overridden": sorted(f.criterion for f in result.failures if f.criterion in used),
        },
    )
    await enqueue(
        conn,
        ContractActivated(
            event_id=event_id(contract_id, updated["version"]),
            contract_id=contract_id,
            client_id=contract["client_id"],
            version=updated["version"],
            offer=updated["offer"],
            level=updated["level"],
            includes=list(offer["includes"]),
            year=updated["year"],
            client=client_snapshot(client),
            start_date=updated["start_date"],
            end_date=updated["end_date"],
            ends_at=domain.ends_at(updated["year"]),
            postes=domain.count_postes(views),
            peripherals=domain.count_peripherals(views),
            users=[contract_user(u) for u in users],
            renewal_of=updated["renewal_of"],
        ),
    )
    return contract_out(updated, offer["includes"])


async def renew(
    conn: asyncpg.Connection, contract_id: uuid.UUID, offer: str | None, actor: Actor, today: date
) -> ContractOut:
    """C2: the next year's draft, same client, inventory and users (they belong to the practice).

    It starts on 1 January, or today when the renewal is made after the new year began (a
    contract is never backdated into days nobody agreed to pay for).
    """
    contract = await _contract(conn, contract_id, lock=True)
    if contract["status"] not in ("active", "ended") or contract["end_reason"] == "cessation":
        raise NotRenewable(
            f"a {contract['status']} contract cannot be renewed", status_now=contract["status"]
        )
    code = offer or contract["offer"]
    await _offer(conn, code)
    next_year = contract["year"] + 1
    if next_year < today.year:
        raise YearOver(f"year {next_year} is over; create a contract for {today.year} instead")
    existing = await repo.renewal_for(conn, contract["client_id"], next_year)
    if existing is not None:
        raise ContractExistsForYear(
            f"the client already has a {existing['status']} contract for {next_year}",
            contract_id=existing["id"],
        )
    row = await _insert_draft(
        conn,
        client_id=contract["client_id"],
        offer=code,
        start_date=max(domain.renewal_start(contract["year"]), today),
        renewal_of=contract_id,
        level=contract["level"],  # a renewal keeps the level the client chose
        actor=actor,
    )
    return await _out(conn, row)


async def cancel(
    conn: asyncpg.Connection, contract_id: uuid.UUID, actor: Actor, now: datetime
) -> ContractOut:
    """Drop a draft that will not be signed (C8).

    A renewal draft counts as signed for the L3 carry-over, so ``contract.cancelled`` tells
    licence-svc and backup-svc to stop what they carried over for it."""
    contract = await _contract(conn, contract_id, lock=True)
    if contract["status"] != "draft":
        raise NotADraft(
            f"contract is {contract['status']}, only a draft can be cancelled",
            status_now=contract["status"],
        )
    updated = await repo.set_contract_state(conn, contract_id, status="cancelled")
    offer = await _offer(conn, updated["offer"])
    await enqueue(
        conn,
        ContractCancelled(
            event_id=event_id(contract_id, updated["version"]),
            contract_id=contract_id,
            client_id=updated["client_id"],
            version=updated["version"],
            offer=updated["offer"],
            includes=list(offer["includes"]),
            year=updated["year"],
            reason="withdrawn",
            cancelled_at=now,
            renewal_of=updated["renewal_of"],
        ),
    )
    await audit.record(
        conn,
        actor,
        "contract.cancelled",
        target_type="contract",
        target_id=contract_id,
        client_id=contract["client_id"],
        before=contract_audit(contract),
        after=contract_audit(updated),
    )
    return await _out(conn, updated)


async def get(conn: asyncpg.Connection, contract_id: uuid.UUID) -> ContractOut:
    return await _out(conn, await _contract(conn, contract_id))


async def list_contracts(
    conn: asyncpg.Connection,
    *,
    client_id: uuid.UUID | None,
    status: str | None,
    year: int | None,
    non_conforming: bool | None = None,
    limit: int,
    cursor: str | None = None,
    offer: str | None = None,
) -> pagination.Page[ContractOut]:
    """A page of contracts, oldest first (``created_at``, then ``id``)."""
    after = pagination.decode(cursor, pagination.moment, uuid.UUID)
    includes = {r["code"]: list(r["includes"]) for r in await repo.list_offers(conn)}
    rows = await repo.list_contracts(
        conn,
        client_id=client_id,
        status=status,
        year=year,
        non_conforming=non_conforming,
        limit=limit + 1,
        after=after,
        offer=offer,
    )
    return pagination.Page[ContractOut].of(
        rows,
        limit,
        key=lambda r: (r["created_at"], r["id"]),
        out=lambda r: contract_out(r, includes.get(r["offer"], [])),
    )


async def amendments(
    conn: asyncpg.Connection, contract_id: uuid.UUID, *, limit: int, cursor: str | None
) -> pagination.Page[AmendmentOut]:
    """C5: the contract's amendments, a page at a time in the order they were made."""
    after = pagination.decode(cursor, pagination.moment, uuid.UUID)
    await _contract(conn, contract_id)
    rows = await repo.list_amendments(conn, contract_id, after=after, limit=limit + 1)
    return pagination.Page[AmendmentOut].of(
        rows, limit, key=lambda r: (r["created_at"], r["id"]), out=amendment_out
    )
