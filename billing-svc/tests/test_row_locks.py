"""Row locks that cannot deadlock: a transaction holding an invoice (a Stripe push recording
its outcome, a mailing being marked sent, a payment) must not block another inserting rows
that reference the invoice (a credit note being approved, a mailing being queued). Their
foreign keys take KEY SHARE on the invoice; ``FOR UPDATE`` would conflict with it and, with the
other transaction waiting on a lock of the first, deadlock (seen in CI as a 500 on
``POST /v1/approvals/{id}/approve``). ``FOR NO KEY UPDATE`` does not."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import date
from decimal import Decimal
from typing import Any, cast

from prisme_billing import repository
from prisme_billing.app import build_app
from prisme_billing.domain import split_ttc
from prisme_billing.repository import mailings
from prisme_billing.settings import BillingSettings
from prisme_chassis import clock
from prisme_chassis.db import connect
from prisme_testing.plugin import publish_event, start_service

from .test_stripe import _invoice


async def test_rows_referencing_a_locked_invoice_are_inserted_without_waiting(
    billing_settings: BillingSettings,
    auth_headers: dict[str, str],
    activated: Callable[..., Any],
    wait_for: Callable[..., Awaitable[Any]],
) -> None:
    s = billing_settings
    async with start_service(build_app(s), headers=auth_headers) as api:
        act = activated(postes=6, start=date(2026, 1, 1))
        await publish_event(s.nats_url, act)
        invoice = await _invoice(api, wait_for, act.contract_id)
    invoice_id = uuid.UUID(invoice["id"])

    holder = await connect(s.database_url)
    inserter = await connect(s.database_url)
    try:
        async with holder.transaction():
            locked = await repository.document(holder, invoice_id, lock=True)
            assert locked is not None
            async with inserter.transaction():
                # a lock wait fails the test instead of hanging it
                await inserter.execute("SET LOCAL lock_timeout = '10s'")
                await repository.insert_draft(
                    inserter,
                    kind="credit_note",
                    contract_id=act.contract_id,
                    client_id=act.client.client_id,
                    buyer=dict(locked["buyer"]),
                    lines=[],
                    totals=split_ttc(Decimal("100.00")),
                    invoice_id=invoice_id,
                    purpose="correction",
                    reason="remise commerciale",
                )
                assert await mailings.insert_mailing(
                    inserter,
                    mailing_id=uuid.uuid4(),
                    document_id=invoice_id,
                    purpose="resend",
                    reminder_stage=None,
                    requested_by="op-alice",
                    requested_at=clock.now(),
                    message_id=f"<{uuid.uuid4()}@prisme.test>",
                )
                count = await inserter.fetchval(
                    "SELECT count(*) FROM documents WHERE invoice_id = $1", invoice_id
                )
                assert cast(int, count) == 1
    finally:
        await holder.close()
        await inserter.close()
