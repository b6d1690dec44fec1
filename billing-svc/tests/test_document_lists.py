"""The accountant's lists: invoices and credit notes filtered by billing-svc itself and read a
page at a time (``limit``, ``cursor`` → ``next_cursor``), never everything at once."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any, cast

import asyncpg
import httpx
from prisme_billing import domain, service
from prisme_billing import repository as repo
from prisme_billing.app import build_app
from prisme_billing.settings import BillingSettings
from prisme_chassis.calendar import business_today
from prisme_chassis.db import create_pool
from prisme_chassis.pagination import encode
from prisme_testing.plugin import start_service

LILAS = {"name": "Cabinet des Lilas", "siren": "552100554", "city": "Saint-Pierre"}
BELLEPIERRE = {"name": "Centre dentaire Bellepierre", "siren": "813000004", "city": "Saint-Denis"}


async def _client(conn: asyncpg.Connection, buyer: dict[str, str]) -> uuid.UUID:
    client_id = uuid.uuid4()
    full = {"line1": "1 rue", "postal_code": "97410", "manager_name": "Dr X", "email": "x@y.re"}
    await repo.upsert_client(conn, full | buyer, client_id)
    return client_id


async def _invoice(
    conn: asyncpg.Connection, client_id: uuid.UUID, issued: date, purpose: str = "yearly"
) -> str:
    charge = domain.activation_charge(domain.PRISME_DEFAULT, 6, date(issued.year, 1, 1))
    doc_id, _ = await service.create_draft_invoice(
        conn, uuid.uuid4(), client_id, [charge], 1, purpose
    )
    return await service.finalise(conn, doc_id, "invoice", issued)


async def _seed(url: str) -> dict[str, str]:
    """Six invoices of two practices over two years, in every state, and one credit note."""
    pool = await create_pool(url, max_size=2)
    try:
        async with pool.acquire() as c, c.transaction():
            conn = cast(asyncpg.Connection, c)
            lilas, belle = await _client(conn, LILAS), await _client(conn, BELLEPIERRE)
            today = business_today()
            last = today.year - 1
            n = {
                "old": await _invoice(conn, lilas, date(last - 1, 11, 10)),
                "paid": await _invoice(conn, lilas, date(last, 1, 15)),
                "one_off": await _invoice(conn, belle, date(last, 2, 1), "one_off"),
                "failed": await _invoice(conn, belle, date(last, 3, 1), "additional"),
                "credited": await _invoice(conn, belle, date(last, 3, 5)),
                "today": await _invoice(conn, lilas, today),  # due later: not overdue
            }
            for key, status in (("paid", "paid"), ("failed", "payment_failed")):
                doc = await conn.fetchrow("SELECT id FROM documents WHERE number = $1", n[key])
                assert doc is not None
                await repo.set_status(conn, doc["id"], status)
            credited = await conn.fetchrow(
                "SELECT * FROM documents WHERE number = $1", n["credited"]
            )
            assert credited is not None
            note_id = await repo.insert_draft(
                conn,
                kind="credit_note",
                contract_id=credited["contract_id"],
                client_id=belle,
                buyer=dict(credited["buyer"]),
                lines=[],
                totals=domain.split_ttc(credited["total_ttc"]),
                invoice_id=credited["id"],
                purpose="correction",
                reason="erreur de postes",
            )
            n["note"] = await service.finalise(conn, note_id, "credit_note", today)
            await repo.set_status(conn, credited["id"], "credited")
            n["lilas"], n["belle"] = str(lilas), str(belle)
            return n
    finally:
        await pool.close()


async def _numbers(api: httpx.AsyncClient, path: str = "/v1/invoices", **params: Any) -> list[str]:
    r = await api.get(path, params=params)
    assert r.status_code == 200, r.text
    return [d["number"] for d in r.json()["items"]]


async def test_lists_filter_and_page_on_the_server(
    billing_settings: BillingSettings, auth_headers: dict[str, str]
) -> None:
    async with start_service(build_app(billing_settings), headers=auth_headers) as api:
        n = await _seed(billing_settings.database_url)
        everything = [n[k] for k in ("old", "paid", "one_off", "failed", "credited", "today")]
        assert await _numbers(api) == everything  # number order, a page of 50 by default

        # pages of 2 (cursor after cursor), both ways, never a row twice or skipped
        for order, expected in (("number", everything), ("-number", everything[::-1])):
            seen: list[str] = []
            cursor = None
            while True:
                params = {"limit": 2, "order": order} | ({"cursor": cursor} if cursor else {})
                page = (await api.get("/v1/invoices", params=params)).json()
                assert len(page["items"]) <= 2
                seen += [d["number"] for d in page["items"]]
                cursor = page["next_cursor"]
                if cursor is None:
                    break
            assert seen == expected

        year = business_today().year - 1
        assert await _numbers(api, status="paid") == [n["paid"]]
        assert await _numbers(api, status=["payment_failed", "credited"]) == [
            n["failed"],
            n["credited"],
        ]
        assert await _numbers(api, purpose="one_off") == [n["one_off"]]
        assert await _numbers(api, client_id=n["lilas"]) == [n["old"], n["paid"], n["today"]]
        assert await _numbers(api, year=year - 1) == [n["old"]]
        assert await _numbers(api, q="bellepierre") == [n["one_off"], n["failed"], n["credited"]]
        assert await _numbers(api, q="813000") == [n["one_off"], n["failed"], n["credited"]]
        assert await _numbers(api, q=n["old"][-8:].lower()) == [n["old"]]
        assert await _numbers(api, q="%") == []  # a wildcard is a character like another
        # each item names its buyer (the Facturation page's « Cabinet » column, API 2.1)
        names = {
            d["number"]: d["client_name"] for d in (await api.get("/v1/invoices")).json()["items"]
        }
        assert names[n["old"]] == names[n["today"]] == "Cabinet des Lilas"
        assert names[n["one_off"]] == "Centre dentaire Bellepierre"
        assert await _numbers(api, issued_from=f"{year}-01-15", issued_to=f"{year}-03-01") == [
            n["paid"],
            n["one_off"],
            n["failed"],
        ]
        # B10: past due (Réunion business day) with something left to pay
        assert await _numbers(api, overdue="true") == [n["old"], n["one_off"], n["failed"]]
        assert await _numbers(api, overdue="true", client_id=n["belle"], limit=1) == [n["one_off"]]

        # the figures above the list: every page of what the same filters keep
        invoices = (await api.get("/v1/invoices")).json()["items"]
        totals = (await api.get("/v1/invoices/totals")).json()
        assert totals["count"] == 6
        assert Decimal(totals["total_ttc"]) == sum(Decimal(d["total_ttc"]) for d in invoices)
        open_ones = [d for d in invoices if d["status"] in ("open", "payment_failed")]
        assert Decimal(totals["outstanding"]) == sum(Decimal(d["total_ttc"]) for d in open_ones)
        paid = (await api.get("/v1/invoices/totals", params={"status": "paid"})).json()
        assert (paid["count"], paid["outstanding"]) == (1, "0.00")
        late = (await api.get("/v1/invoices/totals", params={"overdue": "true"})).json()
        assert late["count"] == 3

        assert await _numbers(api, "/v1/credit-notes", purpose="correction") == [n["note"]]
        assert await _numbers(api, "/v1/credit-notes", purpose="cessation") == []
        assert await _numbers(api, "/v1/credit-notes", client_id=n["lilas"]) == []
        credited = (await api.get("/v1/invoices", params={"number": n["credited"]})).json()
        (of_it,) = (
            await api.get("/v1/credit-notes", params={"invoice_id": credited["items"][0]["id"]})
        ).json()["items"]
        assert of_it["number"] == n["note"]
        assert of_it["client_name"] == "Centre dentaire Bellepierre"
        assert await _numbers(api, "/v1/credit-notes", invoice_id=str(uuid.uuid4())) == []


async def test_bad_filters_are_problems(
    billing_settings: BillingSettings, auth_headers: dict[str, str]
) -> None:
    async with start_service(build_app(billing_settings), headers=auth_headers) as api:
        for path, params, problem in (
            ("/v1/invoices", {"status": "cancelled"}, None),
            ("/v1/invoices", {"purpose": "cessation"}, None),
            ("/v1/invoices", {"limit": "201"}, None),
            ("/v1/invoices", {"limit": "0"}, None),
            ("/v1/invoices", {"year": "deux-mille"}, None),
            ("/v1/invoices", {"issued_from": "2026-02-30"}, None),
            ("/v1/invoices", {"client_id": "lilas"}, None),
            ("/v1/invoices", {"cursor": "%%%"}, "invalid-cursor"),
            ("/v1/invoices", {"cursor": "MjAyNg"}, "invalid-cursor"),  # one part, not two
            ("/v1/credit-notes", {"cursor": "bm9ufGNvbXB0ZQ"}, "invalid-cursor"),
            ("/v1/invoices", {"q": "F2026\x00"}, "invalid-list-filter"),
            (
                "/v1/invoices",
                {"issued_from": "2026-03-01", "issued_to": "2026-02-01"},
                "invalid-list-filter",
            ),
            ("/v1/invoices/totals", {"status": "cancelled"}, None),
            ("/v1/invoices/totals", {"q": "\x00"}, "invalid-list-filter"),
            ("/v1/invoices", {"cursor": encode(2026, 2**40)}, "invalid-cursor"),
            (
                "/v1/approvals",
                {"cursor": encode("2026-01-01T00:00:00", uuid.uuid4())},
                "invalid-cursor",
            ),
            ("/v1/charges", {"cursor": "x"}, "invalid-cursor"),
            ("/v1/approvals", {"limit": "500"}, None),
        ):
            r = await api.get(path, params=params)
            assert r.status_code == 422, (path, params, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
            if problem:
                assert r.json()["type"].endswith(f"/problems/{problem}"), r.json()


async def test_approvals_and_charges_are_paged(
    billing_settings: BillingSettings, auth_headers: dict[str, str]
) -> None:
    async with start_service(build_app(billing_settings), headers=auth_headers) as api:
        made = []
        for i in range(3):
            items = [{"code": "travail_horaire", "label": "Heure", "unit": "heure"}]
            body = {"items": [items[0] | {"unit_ttc": f"6{i}.00"}], "reason": f"tarif {i}"}
            r = await api.put("/v1/price-book/items", json=body)
            assert r.status_code == 202, r.text
            made.append(r.json()["id"])
        first = (await api.get("/v1/approvals", params={"limit": 2})).json()
        assert [a["id"] for a in first["items"]] == made[:2]
        rest = (await api.get("/v1/approvals", params={"cursor": first["next_cursor"]})).json()
        assert ([a["id"] for a in rest["items"]], rest["next_cursor"]) == (made[2:], None)
        charges = (await api.get("/v1/charges", params={"status": "awaiting_price"})).json()
        assert charges == {"items": [], "next_cursor": None}
