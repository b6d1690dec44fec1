"""licence-svc's request and response schemas, and their mapping from the repository's rows
(field by field: a migration does not change an answer by itself)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, Field

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


def account_out(row: Mapping[str, Any]) -> AccountOut:
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


def tenant_out(row: Mapping[str, Any]) -> TenantOut:
    return TenantOut(
        client_id=row["client_id"],
        graph_tenant=row["graph_tenant"],
        domain=row["domain"],
        sku_part_number=row["sku_part_number"],
    )
