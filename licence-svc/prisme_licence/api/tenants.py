"""Route of a practice's Microsoft 365 tenant (its own, or the provider's by default)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from prisme_chassis import audit
from prisme_chassis.app import Tx
from prisme_chassis.auth import Principal, require_scopes

from .. import service
from ..schemas import (
    TenantIn,
    TenantOut,
    tenant_out,
)

router = APIRouter(tags=["licences"])


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
    tenant = tenant_out(row)
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
