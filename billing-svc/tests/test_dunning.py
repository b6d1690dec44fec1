"""B10: an invoice unpaid past its due date becomes overdue (``invoice.overdue`` once),
reminders are recorded at +7 and +21 days, and the penalties and the 40 € indemnity it states
are computed and shown, never added to the invoice."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from prisme_billing import dunning
from prisme_billing.app import build_app
from prisme_billing.settings import BillingSettings
from prisme_chassis.db import create_pool, transaction
from prisme_testing.plugin import collect_events, publish_event, start_service

from .test_stripe import _invoice

Wait = Callable[..., Awaitable[Any]]


async def test_overdue_reminders_and_penalties_shown_not_added(
    billing_settings: BillingSettings,
    auth_headers: dict[str, str],
    activated: Callable[..., Any],
    wait_for: Wait,
) -> None:
    s = billing_settings
    rate = s.late_penalty_rate_percent
    async with start_service(build_app(s), headers=auth_headers) as api:
        act = activated(postes=6, start=date(2026, 1, 1))
        await publish_event(s.nats_url, act)
        inv = await _invoice(api, wait_for, act.contract_id)
        due = date.fromisoformat(inv["due_date"])
        assert due == date.fromisoformat(inv["issue_date"]) + timedelta(days=30)
        # A partial cheque: what is late is what is still owed.
        await api.post(
            f"/v1/invoices/{inv['id']}/payments",
            json={"method": "cheque", "amount": "480.00", "paid_on": inv["issue_date"]},
        )
        owed = Decimal(inv["total_ttc"]) - Decimal("480.00")

        pool = await create_pool(s.database_url, max_size=2)
        try:
            async with transaction(pool) as conn:
                assert await dunning.run(conn, due, rate) == 0  # due today: not late yet
            eight = due + timedelta(days=8)
            async with transaction(pool) as conn:
                assert await dunning.run(conn, eight, rate) == 2  # overdue + the +7 reminder
            async with transaction(pool) as conn:
                assert await dunning.run(conn, eight, rate) == 0  # idempotent
            (event,) = await collect_events(s.nats_url, "invoice.overdue", 1, timeout=15)
            assert (event.number, event.due_date, event.outstanding) == (
                inv["number"],
                due,
                f"{owed:.2f}",
            )

            r = await api.get(f"/v1/invoices/{inv['id']}/dunning", params={"on": str(eight)})
            assert r.status_code == 200, r.text
            d = r.json()
            expected = (owed * rate / 100 * 8 / 365).quantize(Decimal("0.01"), ROUND_HALF_UP)
            assert (d["overdue"], d["days_late"], d["outstanding"]) == (True, 8, f"{owed:.2f}")
            assert d["late_penalty"] == f"{expected:.2f}"
            assert d["recovery_indemnity"] == "40.00"
            assert d["overdue_since"] == str(due + timedelta(days=1))
            assert [x["stage_days"] for x in d["reminders"]] == [7]
            # Shown, never added: the invoice's amounts are unchanged.
            again = (await api.get(f"/v1/invoices/{inv['id']}")).json()
            assert again["total_ttc"] == inv["total_ttc"]

            async with transaction(pool) as conn:
                assert await dunning.run(conn, due + timedelta(days=22), rate) == 1
            d = (
                await api.get(
                    f"/v1/invoices/{inv['id']}/dunning", params={"on": str(due + timedelta(22))}
                )
            ).json()
            assert [x["stage_days"] for x in d["reminders"]] == [7, 21]
            # O3: the dunning run's changes have their rows, by the dunning job
            trail = (await api.get("/v1/audit", params={"target": inv["id"]})).json()["items"]
            mine = [
                (r["action"], r["detail"].get("stage_days"))
                for r in reversed(trail)
                if r["actor"] == "system:dunning"
            ]
            assert mine == [
                ("invoice.overdue", None),
                ("invoice.reminder_recorded", 7),
                ("invoice.reminder_recorded", 21),
            ]

            # Paid in full: no longer late, nothing to add.
            await api.post(
                f"/v1/invoices/{inv['id']}/payments",
                json={"method": "bank_transfer", "amount": f"{owed:.2f}", "paid_on": str(eight)},
            )
            d = (
                await api.get(f"/v1/invoices/{inv['id']}/dunning", params={"on": str(eight)})
            ).json()
            assert (d["overdue"], d["late_penalty"], d["recovery_indemnity"]) == (
                False,
                "0.00",
                "0.00",
            )
            assert len(await collect_events(s.nats_url, "invoice.overdue", 2, timeout=1)) == 1
        finally:
            await pool.close()
