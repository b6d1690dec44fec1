"""Clôture de l'année against real services (issue 12): the progress box shows four lines,
contracts-svc's run and what licence-svc and billing-svc did of its contract.ended, each with
its counts and bar; video-svc is down: its line says « indisponible », the page still works
and keeps refreshing (httpx, no browser: the box is the fragment htmx swaps in)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from prisme_billing.app import build_app as build_billing
from prisme_billing.settings import BillingSettings
from prisme_contracts.app import build_app as build_contracts
from prisme_contracts.settings import ContractsSettings
from prisme_licence.app import build_app as build_licence
from prisme_licence.settings import LicenceSettings
from prisme_localinfra import free_port
from prisme_testing.polling import eventually
from prisme_testing.runner import start_service

from .conftest import Dashboard, csrf_of

YEAR = 2025  # over: the run is allowed without moving the clock


async def _seed_active(dsn: str, n: int) -> None:
    """``n`` active PRISME contracts of YEAR straight in contracts-svc's database (the API
    path of activation is tested by contracts-svc and the end-to-end tests)."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            """
            WITH c AS (
                INSERT INTO clients (id, name, siren, manager_name, manager_email, manager_phone,
                                     line1, postal_code, city)
                SELECT gen_random_uuid(), 'Cabinet ' || i, '732829320', 'Dr X', 'x@x.re',
                       '0262123456', '1 rue', '97400', 'Saint-Denis'
                  FROM generate_series(1, $2) i
                RETURNING id
            )
            INSERT INTO contracts (id, client_id, offer, year, start_date, end_date, status,
                                   version, created_by, activated_at)
            SELECT gen_random_uuid(), c.id, 'prisme', $1, make_date($1, 1, 1),
                   make_date($1, 12, 31), 'active', 2, 'seed', now()
              FROM c
            """,
            YEAR,
            n,
        )
    finally:
        await conn.close()


@pytest.fixture
async def ops(
    base_settings: dict[str, Any],
    new_database: Callable[[], Awaitable[str]],
    auth_headers: dict[str, str],
    dashboard_settings_factory: Callable[..., Awaitable[Any]],
) -> AsyncIterator[tuple[Dashboard, str]]:
    """contracts-svc, licence-svc and billing-svc up, video-svc down; the dashboard on them.
    Also contracts-svc's database, to seed it."""
    from prisme_dashboard.app import build_app

    contracts_dsn = await new_database()
    contracts = build_contracts(
        ContractsSettings(**base_settings, database_url=contracts_dsn, year_end_check_seconds=3600)
    )
    licence = build_licence(LicenceSettings(**base_settings, database_url=await new_database()))
    billing = build_billing(
        BillingSettings(
            **base_settings,
            database_url=await new_database(),
            stripe_enabled=False,
            smtp_port=free_port(),
        )
    )
    async with (
        start_service(contracts, headers=auth_headers) as c,
        start_service(licence, headers=auth_headers) as li,
        start_service(billing, headers=auth_headers) as b,
    ):
        settings = await dashboard_settings_factory(
            contracts_url=str(c.base_url),
            licence_url=str(li.base_url),
            billing_url=str(b.base_url),
            video_url=f"http://127.0.0.1:{free_port()}",  # nothing listens there
        )
        app = build_app(settings)
        async with start_service(app) as client:
            dashboard = Dashboard(
                client=client, dsn=settings.database_url, settings=settings, app=app
            )
            yield dashboard, contracts_dsn


def _line(html: str, key: str) -> str:
    found = re.search(rf'<li data-line="{key}".*?</li>', html, re.S)
    assert found, html
    return found.group(0)


async def test_the_progress_shows_each_service_and_survives_one_that_is_down(
    ops: tuple[Dashboard, str],
) -> None:
    dashboard, contracts_dsn = ops
    await _seed_active(contracts_dsn, 2)
    initial = await dashboard.add_operator("paul@prisme.re", "technician", name="Paul Técher")
    jar = await dashboard.sign_in_http(
        "paul@prisme.re", initial, "une phrase de passe assez longue"
    )
    box = f"/contrats/cloture/{YEAR}/progression"

    page = await dashboard.client.get(f"/contrats/cloture?annee={YEAR}", headers=jar)
    assert page.status_code == 200, page.text
    for label in (
        "Contrats terminés",
        "Licences retirées",
        "Liens vidéo révoqués",
        "Facturation close",
    ):
        assert label in page.text
    assert "0 contrat terminé, 2 restants" in _line(page.text, "contracts")
    assert "indisponible" in _line(page.text, "videos")
    assert f'hx-get="{box}"' in page.text

    form = {"annee": str(YEAR), "csrf_token": csrf_of(page.text)}
    started = await dashboard.client.post("/contrats/cloture", data=form, headers=jar)
    assert started.status_code == 303, started.text

    async def followed() -> str | None:
        html = (await dashboard.client.get(box, headers=jar)).text
        done = all(
            'data-complete="true"' in _line(html, key)
            for key in ("contracts", "licences", "billing")
        )
        return html if done else None

    html = await eventually(followed, what="licence and billing to follow the run")
    assert "2 contrats terminés, 0 restant" in _line(html, "contracts")
    # no accounts to revoke (the contracts were seeded), but both contract.ended arrived
    assert "0 licence retirée, 0 à retirer — 2 sur 2 contrats reçus." in _line(html, "licences")
    assert "2 contrats clos, 0 en attente" in _line(html, "billing")
    assert '<progress max="1000" value="1000"' in _line(html, "billing")
    videos = _line(html, "videos")
    assert 'data-complete="false"' in videos
    assert "indisponible" in videos
    assert "<progress" not in videos
    # one line is not complete: the box keeps refreshing, the page says the rest is under way
    assert f'hx-get="{box}"' in html
    assert 'data-status="done" data-complete="false"' in html
