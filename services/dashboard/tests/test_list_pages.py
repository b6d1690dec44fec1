"""Cabinets and Contrats against a real contracts-svc: 50 a page, « Page suivante » carries
contracts-svc's cursor (API 2.0), every practice and contract shows once over the pages; a
cursor that is not one (altered link) says so and offers the first page."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from html import unescape
from typing import Any

import asyncpg
import pytest
from prisme_contracts.app import build_app as build_contracts
from prisme_contracts.settings import ContractsSettings
from prisme_testing.runner import start_service

from .conftest import Dashboard

OPERATOR = "lea@prisme.re"
N = 120  # three pages of 50


async def _seed(dsn: str) -> None:
    """N practices with one active contract each, made in one statement: one ``created_at``
    for all, so the pages rest on the id tiebreaker."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            """
            WITH c AS (
                INSERT INTO clients (id, name, siren, manager_name, manager_email, manager_phone,
                                     line1, postal_code, city)
                SELECT gen_random_uuid(), format('Cabinet n°%s', lpad(i::text, 3, '0')),
                       '732829320', 'Dr X', 'x@x.re', '0262123456', '1 rue', '97400',
                       'Saint-Denis'
                  FROM generate_series(1, $1) i
                RETURNING id
            )
            INSERT INTO contracts (id, client_id, offer, year, start_date, end_date, status,
                                   version, created_by, activated_at)
            SELECT gen_random_uuid(), c.id, 'prisme', 2026, make_date(2026, 1, 1),
                   make_date(2026, 12, 31), 'active', 2, 'seed', now()
              FROM c
            """,
            N,
        )
    finally:
        await conn.close()


@pytest.fixture
async def operator(
    base_settings: dict[str, Any],
    new_database: Callable[[], Awaitable[str]],
    auth_headers: dict[str, str],
    dashboard_settings_factory: Callable[..., Awaitable[Any]],
) -> AsyncIterator[tuple[Dashboard, dict[str, str]]]:
    from prisme_dashboard.app import build_app

    dsn = await new_database()
    contracts = build_contracts(
        ContractsSettings(**base_settings, database_url=dsn, year_end_check_seconds=3600)
    )
    async with start_service(contracts, headers=auth_headers) as c:
        await _seed(dsn)
        settings = await dashboard_settings_factory(contracts_url=str(c.base_url))
        app = build_app(settings)
        async with start_service(app) as client:
            ops = Dashboard(client=client, dsn=settings.database_url, settings=settings, app=app)
            initial = await ops.add_operator(OPERATOR, "technician")
            yield ops, await ops.sign_in_http(OPERATOR, initial, "un cabinet bien suivi, deux")


def _next(html: str) -> str | None:
    found = re.search(r'<a href="([^"]+)" rel="next">Page suivante', html)
    return unescape(found.group(1)) if found else None


async def _every_page(ops: Dashboard, jar: dict[str, str], start: str) -> list[str]:
    """The pages from ``start``, following « Page suivante »; each page's HTML."""
    pages: list[str] = []
    url = start
    while True:
        r = await ops.client.get(url, headers=jar)
        assert r.status_code == 200, r.text
        pages.append(r.text)
        link = _next(r.text)  # the same path, its query string changed
        if link is None:
            return pages
        assert "curseur=" in link
        assert f"page={len(pages) + 1}" in link
        url = start.split("?")[0] + link
        assert len(pages) < 5


async def test_practices_and_contracts_page_by_cursor_each_row_once(
    operator: tuple[Dashboard, dict[str, str]],
) -> None:
    ops, jar = operator
    names = [f"Cabinet n°{i:03d}" for i in range(1, N + 1)]

    pages = await _every_page(ops, jar, "/cabinets")
    assert len(pages) == 3
    shown = [n for html in pages for n in re.findall(r">(Cabinet n°\d{3})</a>", html)]
    assert [len(re.findall(r">Cabinet n°\d{3}</a>", html)) for html in pages] == [50, 50, 20]
    assert sorted(shown) == names  # every practice once
    assert "Première page" in pages[1]

    pages = await _every_page(ops, jar, "/contrats?status=active")
    assert len(pages) == 3
    shown = [n for html in pages for n in re.findall(r'#contrats">(Cabinet n°\d{3})</a>', html)]
    assert sorted(shown) == names  # every contract once, named after its practice

    for path in ("/cabinets", "/contrats"):
        r = await ops.client.get(path + "?curseur=altere&page=2", headers=jar)
        assert r.status_code == 200, r.text
        assert "Cette page n&#39;existe plus" in r.text or "Cette page n'existe plus" in r.text
