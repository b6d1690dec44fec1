"""Facturation against a real billing-svc: the filters of the query string go to billing-svc,
which filters and pages (newest first, 50 a page, its cursor in « Page suivante »); the page
never reads every document to filter them itself."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date
from html import unescape
from typing import Any

import asyncpg
import pytest
from prisme_billing.app import build_app as build_billing
from prisme_billing.settings import BillingSettings
from prisme_localinfra import free_port
from prisme_testing.runner import start_service

from .conftest import Dashboard

YEAR = date.today().year - 1
ACCOUNTANT = "marc@prisme.re"


async def _seed(dsn: str, lilas: uuid.UUID, belle: uuid.UUID) -> None:
    """60 invoices of last year: 55 of the Lilas (every fifth paid), then 5 of Bellepierre
    (the last for the month's work); numbers F<year>-000001 … 000060, issued day after day."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "INSERT INTO clients (client_id, name, siren, address_line1, postal_code, city,"
            " manager_name, email) VALUES"
            " ($1, 'Cabinet des Lilas', '552100554', '1 rue', '97410', 'Saint-Pierre', 'Dr A',"
            "  'a@lilas.re'),"
            " ($2, 'Centre dentaire Bellepierre', '813000004', '2 rue', '97400', 'Saint-Denis',"
            "  'Dr B', 'b@bellepierre.re')",
            lilas,
            belle,
        )
        await conn.execute(
            """
            INSERT INTO documents (id, kind, contract_id, client_id, status, number, series_year,
                                   sequence, issue_date, due_date, total_ht, total_vat,
                                   total_ttc, amount_paid, buyer, purpose)
            SELECT gen_random_uuid(), 'invoice', gen_random_uuid(), c.client_id,
                   CASE WHEN i % 5 = 0 AND i <= 55 THEN 'paid' ELSE 'open' END,
                   format('F%s-%s', $3::int, lpad(i::text, 6, '0')), $3, i,
                   make_date($3, 1, 1) + i, make_date($3, 1, 1) + i + 30, 92.17, 7.83, 100.00,
                   CASE WHEN i % 5 = 0 AND i <= 55 THEN 100.00 ELSE 0 END,
                   jsonb_build_object('name', c.name, 'siren', c.siren),
                   CASE WHEN i = 60 THEN 'one_off' ELSE 'yearly' END
            FROM generate_series(1, 60) AS i
            JOIN clients c ON c.client_id = CASE WHEN i <= 55 THEN $1::uuid ELSE $2::uuid END
            """,
            lilas,
            belle,
            YEAR,
        )
    finally:
        await conn.close()


@pytest.fixture
async def billing(
    base_settings: dict[str, Any],
    new_database: Callable[[], Awaitable[str]],
    auth_headers: dict[str, str],
) -> AsyncIterator[tuple[str, str]]:
    dsn = await new_database()
    settings = BillingSettings(
        **base_settings, database_url=dsn, stripe_enabled=False, smtp_port=free_port()
    )
    async with start_service(build_billing(settings), headers=auth_headers) as client:
        yield str(client.base_url).rstrip("/"), dsn


@pytest.fixture
async def accountant(
    dashboard_settings_factory: Callable[..., Awaitable[Any]], billing: tuple[str, str]
) -> AsyncIterator[tuple[Dashboard, dict[str, str]]]:
    from prisme_dashboard.app import build_app

    settings = await dashboard_settings_factory(billing_url=billing[0])
    app = build_app(settings)
    async with start_service(app) as client:
        ops = Dashboard(client=client, dsn=settings.database_url, settings=settings, app=app)
        initial = await ops.add_operator(ACCOUNTANT, "accountant")
        yield ops, await ops.sign_in_http(ACCOUNTANT, initial, "une facture bien rangée vaut deux")


def _numbers(html: str) -> list[str]:
    return re.findall(r'data-document="([^"]+)"', html)


def _next(html: str) -> str | None:
    found = re.search(r'<a href="([^"]+)" rel="next">Page suivante', html)
    return unescape(found.group(1)) if found else None


async def test_the_filters_and_pages_are_billing_svcs(
    accountant: tuple[Dashboard, dict[str, str]], billing: tuple[str, str]
) -> None:
    ops, jar = accountant
    lilas, belle = uuid.uuid4(), uuid.uuid4()
    await _seed(billing[1], lilas, belle)

    async def get(query: str) -> str:
        r = await ops.client.get("/facturation" + query, headers=jar)
        assert r.status_code == 200, r.text
        return r.text

    def f(i: int) -> str:
        return f"F{YEAR}-{i:06d}"

    # newest first, 50 a page; the next page comes from billing-svc's cursor
    first = await get("")
    assert _numbers(first) == [f(i) for i in range(60, 10, -1)]
    link = _next(first)
    assert link is not None
    assert "curseur=" in link
    assert "page=2" in link
    second = await get(link)
    assert _numbers(second) == [f(i) for i in range(10, 0, -1)]
    assert _next(second) is None
    assert "Première page" in second
    # the figures are those of every page (billing-svc's totals), not of the page shown
    assert "60 facture(s) · total 6" in first
    assert "reste à encaisser 4" in first  # 49 open ones at 100 €: 4 900,00 €

    # each filter of the query string is answered by billing-svc, and kept in the form
    found = await get("?q=bellepierre")
    assert _numbers(found) == [f(i) for i in range(60, 55, -1)]
    assert 'value="bellepierre"' in found
    # the « Cabinet » column names the practice (billing-svc's client_name), linked to its page
    assert found.count(f'<a href="/cabinets/{belle}">Centre dentaire Bellepierre</a>') == 5
    assert "Cabinet des Lilas" not in found
    assert f'<a href="/cabinets/{lilas}">Cabinet des Lilas</a>' in first
    paid = await get(f"?status=paid&client_id={lilas}")
    assert _numbers(paid) == [f(i) for i in range(55, 0, -5)]
    assert "11 facture(s) pour ces filtres" in paid
    assert _numbers(await get("?origine=one_off")) == [f(60)]
    assert _numbers(await get(f"?du={YEAR}-01-11&au={YEAR}-01-13")) == [f(12), f(11), f(10)]
    assert _numbers(await get(f"?annee={YEAR - 1}")) == []
    # B10: past due with something to pay (every open one: they were due last year)
    overdue = await get(f"?retard=1&client_id={belle}")
    assert _numbers(overdue) == [f(i) for i in range(60, 55, -1)]
    assert overdue.count("en retard</span>") == 5
    # the next page keeps the filters
    by_number = await get(f"?q=f{YEAR}-&status=open")  # 49 open: one page
    assert len(_numbers(by_number)) == 49
    assert _next(by_number) is None
    everything = await get(f"?q=f{YEAR}-")
    link = _next(everything)
    assert link is not None
    assert f"q=f{YEAR}-" in link
    assert _numbers(await get(link)) == [f(i) for i in range(10, 0, -1)]

    # a cursor billing-svc did not give: said in French, not a crash
    stale = await get("?curseur=pas-un-curseur&page=3")
    assert "Cette page n&#39;existe plus" in stale or "Cette page n'existe plus" in stale
    # the credit notes' list has its own origins and no state filter
    notes = await get("?type=avoirs&origine=correction")
    assert _numbers(notes) == []
    assert 'name="status"' not in notes


async def test_an_invoice_page_shows_the_invoice_and_an_unknown_one_is_a_404_page(
    accountant: tuple[Dashboard, dict[str, str]], billing: tuple[str, str]
) -> None:
    """The invoice, its history and its credit notes are read at once; an unknown invoice
    still answers the readable 404 page, not an error."""
    ops, jar = accountant
    await _seed(billing[1], uuid.uuid4(), uuid.uuid4())
    listed = await ops.client.get("/facturation", headers=jar)
    found = re.search(r'href="(/facturation/factures/[0-9a-f-]{36})"', listed.text)
    assert found, listed.text[:2000]
    shown = await ops.client.get(found.group(1), headers=jar)
    assert shown.status_code == 200, shown.text
    assert f"F{YEAR}-" in shown.text
    assert (
        ">Centre dentaire Bellepierre</a>" in shown.text
    )  # the crumbs name the practice (newest: F…060)
    unknown = await ops.client.get(f"/facturation/factures/{uuid.uuid4()}", headers=jar)
    assert unknown.status_code == 404
    assert "Facture introuvable" in unescape(unknown.text)
