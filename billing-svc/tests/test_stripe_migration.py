"""Migration 005: Stripe work of the old tables moves onto the chassis job queue, none lost."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

from prisme_billing.app import spec
from prisme_chassis.db import CHASSIS_MIGRATIONS, connect, migrate


async def test_pending_calls_and_events_become_jobs(
    new_database: Callable[[], Awaitable[str]], tmp_path: Path
) -> None:
    before = tmp_path / "before"
    before.mkdir()
    for path in sorted(spec.migrations.glob("*.sql")):
        if int(path.name[:3]) < 5:
            shutil.copy(path, before / path.name)
    conn = await connect(await new_database())
    try:
        await migrate(conn, "chassis", CHASSIS_MIGRATIONS)
        await migrate(conn, spec.name, before)
        docs = [uuid.uuid4() for _ in range(3)]
        client = uuid.uuid4()
        await conn.execute(
            "INSERT INTO clients (client_id, name, siren, address_line1, postal_code, city,"
            " manager_name, email) VALUES ($1, 'C', '552100554', 'l', '97410', 'v', 'm', 'e@x')",
            client,
        )
        for doc in docs:
            await conn.execute(
                "INSERT INTO documents (id, kind, contract_id, client_id, status, buyer)"
                " VALUES ($1, 'invoice', $2, $3, 'draft', '{}')",
                doc,
                uuid.uuid4(),
                client,
            )
        await conn.executemany(
            "INSERT INTO stripe_jobs (id, kind, document_id, status, attempts, last_error)"
            " VALUES ($1, $2, $3, $4, $5, $6)",
            [
                (uuid.uuid4(), "push_invoice", docs[0], "pending", 3, "APIError"),
                (uuid.uuid4(), "paid_out_of_band", docs[1], "failed", 12, "gave up"),
                (uuid.uuid4(), "push_invoice", docs[2], "done", 1, None),
            ],
        )
        await conn.executemany(
            "INSERT INTO webhook_events (source, external_id, type, payload, received_via,"
            " processed_at, attempts, last_error) VALUES ('stripe', $1, 'invoice.paid', '{}',"
            " 'webhook', $2, $3, $4)",
            [
                ("evt_done", datetime(2026, 1, 2, tzinfo=UTC), 1, None),
                ("evt_lost", None, 20, "APIConnectionError"),  # burnt by the old worker
            ],
        )
        await migrate(conn, spec.name, spec.migrations)
        rows = await conn.fetch(
            "SELECT kind, idempotency_key, state, attempts, payload::text AS payload"
            " FROM job_queue ORDER BY kind, idempotency_key"
        )
        events = await conn.fetch(
            "SELECT event_id, processed_at IS NOT NULL AS done FROM stripe_events"
        )
        tables = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE tablename IN ('stripe_jobs', 'webhook_events')"
        )
    finally:
        await conn.close()
    got = {(r["kind"], r["idempotency_key"]): (r["state"], r["attempts"]) for r in rows}
    assert got == {
        ("billing.stripe_event", "stripe_event:evt_lost"): ("queued", 0),
        ("billing.stripe_paid_out_of_band", f"invoice:{docs[1]}:paid_out_of_band"): ("dead", 12),
        ("billing.stripe_push_invoice", f"invoice:{docs[0]}:push"): ("queued", 0),
        ("billing.stripe_push_invoice", f"invoice:{docs[2]}:push"): ("succeeded", 1),
    }
    payloads = {r["idempotency_key"]: r["payload"] for r in rows}
    assert str(docs[0]) in payloads[f"invoice:{docs[0]}:push"]
    assert cast(str, payloads["stripe_event:evt_lost"]) == '{"event_id": "evt_lost"}'
    assert {(e["event_id"], e["done"]) for e in events} == {("evt_done", True), ("evt_lost", False)}
    assert tables == []
