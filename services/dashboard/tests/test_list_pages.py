"""Cabinets, Contrats, Licences and Sauvegardes against real services: 50 a page, « Page suivante »
carries the service's cursor (API 2.0), every practice, contract and account shows once over
the pages; a cursor that is not one (altered link) says so and offers the first page."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from html import unescape
from typing import Any

import asyncpg
import pytest
from prisme_backup.app import build_app as build_backup
from prisme_backup.settings import BackupSettings
from prisme_contracts.app import build_app as build_contracts
from prisme_contracts.settings import ContractsSettings
from prisme_dashboard.web import home_pages
from prisme_licence.app import build_app as build_licence
from prisme_licence.settings import LicenceSettings
from prisme_testing.runner import start_service

from .conftest import Dashboard

OPERATOR = "lea@prisme.re"
N = 120  # three pages of 50


async def _seeded_practices(contracts_dsn: str) -> list[asyncpg.Record]:
    """The seeded practices with their contract, by name."""
    source = await asyncpg.connect(contracts_dsn)
    try:
        return list(
            await source.fetch(
                "SELECT c.id, k.id AS contract_id, c.name FROM clients c"
                " JOIN contracts k ON k.client_id = c.id ORDER BY c.name"
            )
        )
    finally:
        await source.close()


async def _seed_accounts(contracts_dsn: str, licence_dsn: str) -> None:
    """One Microsoft 365 account per seeded practice; the first 7 failed with an alert."""
    rows = await _seeded_practices(contracts_dsn)
    conn = await asyncpg.connect(licence_dsn)
    try:
        await conn.executemany(
            """INSERT INTO accounts (id, client_id, contract_id, user_id, graph_tenant, upn,
                                     display_name, first_name, last_name, sku, status, alert)
               VALUES (gen_random_uuid(), $1, $2, gen_random_uuid(), 'tenant', $3, 'Dr X',
                       'X', 'X', 'O365_BUSINESS', $4, $5)""",
            [
                (
                    r["id"],
                    r["contract_id"],
                    f"dr.{i:03d}@prisme.re",
                    "failed" if i <= 7 else "active",
                    "Échec de la création du compte : refus de Microsoft Graph (graph_refused)"
                    if i <= 7
                    else None,
                )
                for i, r in enumerate(rows, start=1)
            ],
        )
    finally:
        await conn.close()


async def _seed_plans(contracts_dsn: str, backup_dsn: str) -> None:
    """One backup plan per seeded practice; the last 10 (by name) ended."""
    rows = await _seeded_practices(contracts_dsn)
    conn = await asyncpg.connect(backup_dsn)
    try:
        await conn.executemany(
            """INSERT INTO plans (id, client_id, client_name, contract_id, status, quota_bytes,
                                  history_days, repository_location, repository_password,
                                  repository_user, expected_from)
               VALUES (gen_random_uuid(), $1, $2, $3, $4, 1000000000000, 30, 'rest:local',
                       '\\x00'::bytea, $5, current_date)""",
            [
                (
                    r["id"],
                    r["name"],
                    r["contract_id"],
                    "ended" if i > N - 10 else "active",
                    f"plan-{i:03d}",
                )
                for i, r in enumerate(rows, start=1)
            ],
        )
        # a good copy an hour ago for the first 30 practices' plans, one 3 days old for the
        # 31st: 80 active plans have had none for 36 h
        await conn.execute(
            """
            WITH p AS (SELECT id, row_number() OVER (ORDER BY client_name) AS n FROM plans),
                 a AS (INSERT INTO agents (id, plan_id, hostname, credential_hash, status)
                       SELECT gen_random_uuid(), id, 'poste', decode(md5(id::text), 'hex'),
                              'active' FROM p WHERE n <= 31 RETURNING id, plan_id)
            INSERT INTO runs (id, plan_id, agent_id, day, started_at, finished_at, status)
            SELECT gen_random_uuid(), a.plan_id, a.id, current_date, f - interval '5 min', f,
                   'succeeded'
              FROM a JOIN p ON p.id = a.plan_id,
                   LATERAL (SELECT now() - CASE WHEN p.n <= 30 THEN interval '1 hour'
                                                ELSE interval '3 days' END AS f) t
            """
        )
    finally:
        await conn.close()


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


Downstream = Callable[[dict[str, Any], str], Any]
#: the service the page reads besides contracts-svc: its app, the dashboard's setting, the seed
DOWNSTREAM: dict[str, tuple[Downstream, str, Callable[[str, str], Awaitable[None]]]] = {
    "licence": (
        lambda base, dsn: build_licence(LicenceSettings(**base, database_url=dsn)),
        "licence_url",
        _seed_accounts,
    ),
    "backup": (
        lambda base, dsn: build_backup(BackupSettings(**{**base, "database_url": dsn})),
        "backup_url",
        _seed_plans,
    ),
}


@contextlib.asynccontextmanager
async def _signed_in(
    base_settings: dict[str, Any],
    new_database: Callable[[], Awaitable[str]],
    auth_headers: dict[str, str],
    dashboard_settings_factory: Callable[..., Awaitable[Any]],
    downstream: str | None = None,
) -> AsyncIterator[tuple[Dashboard, dict[str, str]]]:
    """contracts-svc seeded with N practices (and ``downstream`` with their rows), the
    dashboard on them, a technician signed in: the dashboard and the session's cookies."""
    from prisme_dashboard.app import build_app

    contracts_dsn = await new_database()
    contracts = build_contracts(
        ContractsSettings(**base_settings, database_url=contracts_dsn, year_end_check_seconds=3600)
    )
    async with contextlib.AsyncExitStack() as stack:
        c = await stack.enter_async_context(start_service(contracts, headers=auth_headers))
        await _seed(contracts_dsn)
        urls = {"contracts_url": str(c.base_url)}
        if downstream is not None:
            build, setting, seed = DOWNSTREAM[downstream]
            dsn = await new_database()
            svc = build(base_settings, dsn)
            other = await stack.enter_async_context(start_service(svc, headers=auth_headers))
            await seed(contracts_dsn, dsn)
            urls[setting] = str(other.base_url)
        settings = await dashboard_settings_factory(**urls)
        app = build_app(settings)
        client = await stack.enter_async_context(start_service(app))
        ops = Dashboard(client=client, dsn=settings.database_url, settings=settings, app=app)
        initial = await ops.add_operator(OPERATOR, "technician")
        yield ops, await ops.sign_in_http(OPERATOR, initial, "un cabinet bien suivi, deux")


@pytest.fixture(params=[None])
async def signed_in(
    request: pytest.FixtureRequest,
    base_settings: dict[str, Any],
    new_database: Callable[[], Awaitable[str]],
    auth_headers: dict[str, str],
    dashboard_settings_factory: Callable[..., Awaitable[Any]],
) -> AsyncIterator[tuple[Dashboard, dict[str, str]]]:
    """Parametrised indirectly with the downstream service's name (None: contracts-svc only)."""
    async with _signed_in(
        base_settings, new_database, auth_headers, dashboard_settings_factory, request.param
    ) as found:
        yield found


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
    signed_in: tuple[Dashboard, dict[str, str]],
) -> None:
    ops, jar = signed_in
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


def _accounts(html: str) -> list[str]:
    return re.findall(r'<tr data-account="[^"]+">\s*<td>(dr\.\d{3}@prisme\.re)</td>', html)


@pytest.mark.parametrize("signed_in", ["licence"], indirect=True)
async def test_licences_page_by_cursor_with_server_counts_and_practice_names(
    signed_in: tuple[Dashboard, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    ops, jar = signed_in
    pages = await _every_page(ops, jar, "/licences")
    assert [len(_accounts(html)) for html in pages] == [50, 50, 20]
    shown = [upn for html in pages for upn in _accounts(html)]
    assert sorted(shown) == [f"dr.{i:03d}@prisme.re" for i in range(1, N + 1)]  # each once
    first = unescape(pages[0])
    # the counts are the service's over all 120, not the page's 50
    assert re.search(r"<dt>Actif</dt><dd>113</dd>", first), first
    assert re.search(r"<dt>En échec</dt><dd>7</dd>", first)
    assert re.search(r"<td><code>O365_BUSINESS</code></td><td>113</td>", first)
    # every failure, with its practice's name and the alert in French
    assert first.count("<tr data-failure=") == 7
    assert "refus de Microsoft Graph" in first
    assert len(re.findall(r">Cabinet n°\d{3}</a>", first)) == 50 + 7

    failed = await ops.client.get("/licences?status=failed", headers=jar)
    assert sorted(_accounts(failed.text)) == [f"dr.{i:03d}@prisme.re" for i in range(1, 8)]
    assert _next(failed.text) is None

    one = await ops.client.get("/licences", params={"cabinet": "Cabinet n°042"}, headers=jar)
    assert _accounts(one.text) == ["dr.042@prisme.re"]
    assert "<tr data-failure=" not in one.text  # the failures are the practice's too: none
    failing = await ops.client.get("/licences", params={"cabinet": "Cabinet n°003"}, headers=jar)
    assert failing.text.count("<tr data-failure=") == 1
    several = unescape((await ops.client.get("/licences?cabinet=Cabinet", headers=jar)).text)
    assert "Plusieurs cabinets correspondent à « Cabinet »" in several
    assert _accounts(several) == []
    none = unescape((await ops.client.get("/licences?cabinet=Introuvable", headers=jar)).text)
    assert "Aucun cabinet ne correspond à « Introuvable »" in none

    altered = await ops.client.get("/licences?curseur=altere&page=2", headers=jar)
    assert altered.status_code == 200
    assert "Cette page n'existe plus" in unescape(altered.text)

    # the home page: the 7 failures among its open alerts, each by practice name
    home = unescape((await ops.client.get("/", headers=jar)).text)
    rows = re.findall(r"<tr><td>Licence en échec</td><td><a [^>]+>(Cabinet n°\d{3})</a>", home)
    assert sorted(rows) == [f"Cabinet n°{i:03d}" for i in range(1, 8)]
    assert "Tous les échecs de licence" not in home  # all of them fit: no « more » link
    monkeypatch.setattr(home_pages, "HOME_ALERTS", 5)
    home = unescape((await ops.client.get("/", headers=jar)).text)
    assert home.count("<tr><td>Licence en échec</td>") == 5
    assert '<a href="/licences">Tous les échecs de licence</a>' in home


def _plans(html: str) -> list[str]:
    return re.findall(r'<tr data-plan="[^"]+">\s*<td><a href="[^"]+">(Cabinet n°\d{3})</a>', html)


@pytest.mark.parametrize("signed_in", ["backup"], indirect=True)
async def test_backups_page_by_cursor_active_plans_first_then_any_state(
    signed_in: tuple[Dashboard, dict[str, str]],
) -> None:
    ops, jar = signed_in
    names = [f"Cabinet n°{i:03d}" for i in range(1, N + 1)]
    # by default the plans still copied every day, 50 a page, each once, by practice name
    # (they were created in one statement: by creation, the random ids would order them)
    pages = await _every_page(ops, jar, "/sauvegardes")
    assert [len(_plans(html)) for html in pages] == [50, 50, 10]
    assert [n for html in pages for n in _plans(html)] == names[: N - 10]
    late = await _every_page(ops, jar, "/sauvegardes?etat=en_retard")
    assert [n for html in late for n in _plans(html)] == names[30 : N - 10]
    ended = await ops.client.get("/sauvegardes?etat=ended", headers=jar)
    assert sorted(_plans(ended.text)) == names[N - 10 :]
    every = await _every_page(ops, jar, "/sauvegardes?etat=tous")
    assert sorted(n for html in every for n in _plans(html)) == names
    one = await ops.client.get("/sauvegardes", params={"cabinet": "Cabinet n°042"}, headers=jar)
    assert _plans(one.text) == ["Cabinet n°042"]
    several = unescape((await ops.client.get("/sauvegardes?cabinet=Cabinet", headers=jar)).text)
    assert "Plusieurs cabinets correspondent à « Cabinet »" in several
    assert _plans(several) == []
    altered = await ops.client.get("/sauvegardes?curseur=altere&page=2", headers=jar)
    assert "Cette page n'existe plus" in unescape(altered.text)
