"""Routes of the Microsoft 365 accounts (L1–L3): the list, the counts per SKU and status, one
account, and the one-time reveal of its initial password."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response
from prisme_chassis import audit, pagination
from prisme_chassis.app import Tx
from prisme_chassis.auth import Principal, require_scopes
from prisme_chassis.db import transaction
from prisme_chassis.errors import problems

from .. import errors, service
from ..context import LicenceRuntimeDep
from ..schemas import (
    AccountOut,
    AccountStatus,
    AccountSummary,
    CredentialsOut,
    SkuCount,
    StatusCounts,
    account_out,
)

router = APIRouter(tags=["licences"])


@router.get("/v1/accounts", responses=problems(pagination.InvalidCursor))
async def list_accounts(
    conn: Tx,
    client_id: uuid.UUID | None = None,
    contract_id: uuid.UUID | None = None,
    status: AccountStatus | None = None,
    limit: pagination.Limit = pagination.DEFAULT_LIMIT,
    cursor: pagination.Cursor = None,
    who: Principal = require_scopes("licences:read"),
) -> pagination.Page[AccountOut]:
    """Accounts by practice then UPN, a page at a time (``next_cursor`` back as ``cursor``)."""
    rows = await service.list_accounts(
        conn, client_id, contract_id, limit=limit + 1, cursor=cursor, status=status
    )
    return pagination.Page[AccountOut].of(rows, limit, key=service.account_key, out=account_out)


@router.get("/v1/accounts/summary")
async def account_summary(
    conn: Tx,
    client_id: uuid.UUID | None = None,
    who: Principal = require_scopes("licences:read"),
) -> AccountSummary:
    """How many accounts per SKU and status: the seats in use and those still being given."""
    counts = await service.account_counts(conn, client_id)
    by_sku = [SkuCount.model_validate({"sku": sku, **n}) for sku, n in sorted(counts.items())]
    total = {s: sum(getattr(c, s) for c in by_sku) for s in StatusCounts.model_fields}
    return AccountSummary(total=StatusCounts(**total), by_sku=by_sku)


@router.get("/v1/accounts/{account_id}", responses=problems(errors.AccountNotFound))
async def get_account(
    account_id: uuid.UUID, conn: Tx, who: Principal = require_scopes("licences:read")
) -> AccountOut:
    return account_out(await service.get_account(conn, account_id))


@router.post(
    "/v1/accounts/{account_id}/credentials",
    responses=problems(
        errors.AccountNotFound,
        errors.PasswordAlreadyRead,
        errors.AccountNotProvisioned,
        errors.PasswordExpired,
    ),
)
async def read_credentials(
    account_id: uuid.UUID,
    rt: LicenceRuntimeDep,
    response: Response,
    actor: audit.ActorDep,
    who: Principal = require_scopes("licences:credentials"),
) -> CredentialsOut:
    """The initial password, once (L1); later calls answer 410. Not cacheable."""
    # Our own transaction, committed before answering: a 410 must not roll back the
    # destruction of an expired password (the edge's Tx rolls back on any error).
    async with transaction(rt.pool) as conn:
        found = await service.read_credentials(conn, rt.context.vault, account_id)
        if found.password is not None:
            # O3: who saw the initial password, and when (never the password itself)
            await audit.record(
                conn,
                actor,
                "credentials.revealed",
                target_type="account",
                target_id=account_id,
                client_id=found.account["client_id"],
                detail={"upn": found.account["upn"]},
            )
        elif found.destroyed:
            # O3 (L1): the reveal found the password expired and destroyed it
            await audit.record(
                conn,
                actor,
                "credentials.expired",
                target_type="account",
                target_id=account_id,
                client_id=found.account["client_id"],
                detail={"upn": found.account["upn"]},
            )
    if found.password is None:
        gone = errors.PasswordExpired if found.gone == "expired" else errors.PasswordAlreadyRead
        raise gone(
            "the initial password was already read or has expired", credential_state=found.gone
        )
    response.headers["Cache-Control"] = "no-store"
    acc = found.account
    return CredentialsOut(account_id=acc["id"], upn=acc["upn"], password=found.password)
