"""HTTP routes of licence-svc (DESIGN §4) with their request and response schemas."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, Literal

from fastapi import APIRouter, Response
from prisme_chassis import audit, pagination
from prisme_chassis.app import Read, Tx
from prisme_chassis.auth import Principal, require_scopes
from prisme_chassis.db import transaction
from prisme_chassis.errors import problems
from prisme_chassis.year_end import YearEndEffects, YearPath
from pydantic import BaseModel, Field

from . import errors, service
from .context import LicenceRuntimeDep

router = APIRouter(tags=["licences"])

AccountStatus = Literal["pending", "active", "revoked", "failed"]


class TenantIn(BaseModel):
    graph_tenant: str = Field(
        min_length=1,
        max_length=255,
        pattern=r"^[A-Za-z0-9.-]+$",
        description="Tenant id (GUID) or its initial domain",
    )
    domain: str = Field(
        min_length=3,
        max_length=253,
        pattern=r"^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$",
        description="Verified domain used for login names",
    )
    sku_part_number: str = Field(
        default="O365_BUSINESS", min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_]+$"
    )


class TenantOut(BaseModel):
    client_id: uuid.UUID
    graph_tenant: str
    domain: str
    sku_part_number: str


class AccountOut(BaseModel):
    id: uuid.UUID
    user_id: uuid.UUID
    client_id: uuid.UUID
    contract_id: uuid.UUID
    upn: str
    sku: str
    status: AccountStatus
    credential_state: Literal["none", "available", "read", "expired"]
    alert: str | None


class AlertOut(BaseModel):
    account_id: uuid.UUID
    client_id: uuid.UUID
    user_id: uuid.UUID
    upn: str
    status: AccountStatus
    alert: str


class StatusCounts(BaseModel):
    """Accounts by status: those holding a seat (``active``) and the others."""

    pending: int = 0
    active: int = 0
    revoked: int = 0
    failed: int = 0


class SkuCount(StatusCounts):
    sku: str


class AccountSummary(BaseModel):
    """Counts over every account the filter keeps, per SKU and in all (seats used: ``active``)."""

    total: StatusCounts
    by_sku: list[SkuCount]


class CredentialsOut(BaseModel):
    account_id: uuid.UUID
    upn: str
    password: str
    must_change_at_first_sign_in: bool = True


class JobSummary(BaseModel):
    queued: int = 0
    done: int = 0
    failed: int = 0
    cancelled: int = 0


def _account(row: Mapping[str, Any]) -> AccountOut:
    return AccountOut(
        id=row["id"],
        user_id=row["user_id"],
        client_id=row["client_id"],
        contract_id=row["contract_id"],
        upn=row["upn"],
        sku=row["sku"],
        status=row["status"],
        credential_state=row["credential_state"],
        alert=row["alert"],
    )


def _tenant(row: Mapping[str, Any]) -> TenantOut:
    return TenantOut(
        client_id=row["client_id"],
        graph_tenant=row["graph_tenant"],
        domain=row["domain"],
        sku_part_number=row["sku_part_number"],
    )


@router.put("/v1/tenants/{client_id}")
async def put_tenant(
    client_id: uuid.UUID,
    body: TenantIn,
    conn: Tx,
    actor: audit.ActorDep,
    who: Principal = require_scopes("licences:write"),
) -> TenantOut:
    row = await service.set_tenant(
        conn, client_id, body.graph_tenant, body.domain, body.sku_part_number
    )
    tenant = _tenant(row)
    await audit.record(
        conn,
        actor,
        "tenant.set",
        target_type="tenant",
        target_id=client_id,
        client_id=client_id,
        after=tenant.model_dump(mode="json"),
    )
    return tenant


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
    return pagination.Page[AccountOut].of(rows, limit, key=service.account_key, out=_account)


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
    return _account(await service.get_account(conn, account_id))


@router.get("/v1/alerts", responses=problems(pagination.InvalidCursor))
async def list_alerts(
    conn: Tx,
    client_id: uuid.UUID | None = None,
    limit: pagination.Limit = pagination.DEFAULT_LIMIT,
    cursor: pagination.Cursor = None,
    who: Principal = require_scopes("licences:read"),
) -> pagination.Page[AlertOut]:
    """Accounts with an alert, oldest change first, a page at a time."""
    rows = await service.list_alerts(conn, limit=limit + 1, cursor=cursor, client_id=client_id)
    return pagination.Page[AlertOut].of(
        rows,
        limit,
        key=lambda r: (r["updated_at"], r["id"]),
        out=lambda r: AlertOut(
            account_id=r["id"],
            client_id=r["client_id"],
            user_id=r["user_id"],
            upn=r["upn"],
            status=r["status"],
            alert=r["alert"],
        ),
    )


@router.get("/v1/jobs/summary")
async def job_summary(conn: Tx, who: Principal = require_scopes("licences:read")) -> JobSummary:
    return JobSummary(**await service.job_summary(conn))


@router.get("/v1/year-end/{year}")
async def year_end_effects(
    year: YearPath, conn: Read, who: Principal = require_scopes("licences:read")
) -> YearEndEffects:
    """L3 at the year-end: the accounts of the year's ended contracts, revoked and still to
    revoke (``failed``: a dead Graph job an operator retries on ``/v1/jobs``)."""
    return await service.year_end_effects(conn, year)


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
