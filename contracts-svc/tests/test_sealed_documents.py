"""Cessation documents are sealed in the database (C6, health data); rows stored in clear
before sealing existed are sealed at start-up and still served."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from prisme_chassis.db import connect
from prisme_chassis.sealing import MAGIC

if TYPE_CHECKING:
    from conftest import ServiceFactory

PDF = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n%%EOF\n" + b"x" * 64


async def _stored(dsn: str, termination_id: str) -> bytes:
    conn = await connect(dsn)
    try:
        value: bytes = await conn.fetchval(
            "SELECT document FROM terminations WHERE id = $1", uuid.UUID(termination_id)
        )
    finally:
        await conn.close()
    return value


async def test_documents_sealed_and_clear_rows_migrated(run_contracts: ServiceFactory) -> None:
    async with run_contracts() as svc:
        _, contract = await svc.active_contract()
        r = await svc.alice.post(
            f"/v1/contracts/{contract['id']}/terminations",
            data={"reason": "cessation", "effective_date": svc.clock.today().isoformat()},
            files={"document": ("radiation.pdf", PDF, "application/pdf")},
        )
        assert r.status_code == 201, r.text
        termination = r.json()
        stored = await _stored(svc.dsn, termination["id"])
        assert stored.startswith(MAGIC)
        assert PDF not in stored
        assert b"%PDF" not in stored
        got = await svc.alice.get(f"/v1/terminations/{termination['id']}/document")
        assert got.content == PDF
        dsn = svc.dsn

    # A row as it was stored before sealing: the document in clear.
    conn = await connect(dsn)
    try:
        await conn.execute(
            "UPDATE terminations SET document = $2 WHERE id = $1",
            uuid.UUID(termination["id"]),
            PDF,
        )
    finally:
        await conn.close()

    async with run_contracts(dsn=dsn) as svc:
        stored = await _stored(dsn, termination["id"])
        assert stored.startswith(MAGIC)
        assert PDF not in stored
        got = await svc.alice.get(f"/v1/terminations/{termination['id']}/document")
        assert got.status_code == 200
        assert got.content == PDF
