"""Événements in a real headless Chromium: an event published on the bus appears on an open page
within a second, a dead letter is replayed from the page, a dead job retried.

The chassis' demo service (prisme_testing.demo: a consumer that fails on a poisoned item until
it is cured, a job that dies without its sink) stands in for the webhooks service, so the
dashboard reaches a service with a real dead letter and a real dead job through the same
operational routes every service serves; the other services are down (their blocks say so).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, expect
from prisme_events import ContractEnded
from prisme_localinfra import free_port
from prisme_testing.browser import new_context
from prisme_testing.demo.app import DemoSettings
from prisme_testing.demo.app import build_app as build_demo
from prisme_testing.events import publish_event
from prisme_testing.polling import eventually
from prisme_testing.runner import start_service

from .conftest import Dashboard, csrf_of
from .test_browser import ready_operator

Shot = Callable[[Any, str], Awaitable[None]]
ADMIN = "admin@prisme.re"


@pytest.fixture
async def demo(
    base_settings: dict[str, Any],
    new_database: Callable[[], Awaitable[str]],
    auth_headers: dict[str, str],
) -> AsyncIterator[httpx.AsyncClient]:
    settings = DemoSettings(**base_settings, database_url=await new_database())
    async with start_service(build_demo(settings), headers=auth_headers) as client:
        yield client


@pytest.fixture
async def ops(
    dashboard_settings_factory: Callable[..., Awaitable[Any]],
    demo: httpx.AsyncClient,
) -> AsyncIterator[Dashboard]:
    from prisme_dashboard.app import build_app

    down = {f"{name}_url": f"http://127.0.0.1:{free_port()}" for name in
            ("contracts", "billing", "licence", "video", "backup")}  # fmt: skip
    settings = await dashboard_settings_factory(**down, webhooks_url=str(demo.base_url))
    app = build_app(settings)
    async with start_service(app) as client:
        yield Dashboard(client=client, dsn=settings.database_url, settings=settings, app=app)


@pytest.fixture
async def page(browser: Browser, ops: Dashboard) -> AsyncIterator[Page]:
    # depends on the dashboard: the page (and its open event stream) closes first
    context = await new_context(browser)
    opened = await context.new_page()
    opened.on("dialog", lambda dialog: dialog.accept())
    yield opened
    await context.close()


def ended() -> ContractEnded:
    return ContractEnded(
        contract_id=uuid.uuid4(),
        client_id=uuid.uuid4(),
        version=2,
        offer="prisme",
        includes=[],
        year=2026,
        reason="year_end",
        effective_date=date(2026, 12, 31),
        ended_at=datetime(2026, 12, 31, 20, tzinfo=UTC),
        postes=8,
    )


async def test_an_event_appears_live_and_a_dead_letter_is_replayed(
    page: Page, ops: Dashboard, demo: httpx.AsyncClient, nats_url: str, shot: Shot
) -> None:
    await ready_operator(page, ops, ADMIN, "admin")
    await page.goto(ops.url + "/evenements")
    await expect(page.get_by_role("heading", name="Événements")).to_be_visible()
    feed = page.locator("#feed")
    await expect(feed).to_have_attribute("data-live", "open")

    event = ended()
    await publish_event(nats_url, event)
    row = page.locator(f'tr[data-event-id="{event.event_id}"]')
    # polled by Playwright for at most one second after the publish returned
    await expect(row).to_be_visible(timeout=1000)
    await expect(row).to_contain_text("Contrat terminé")
    await shot(page, "live-feed")

    # a poisoned item: the demo consumer fails three times, the event becomes a dead letter
    item = (await demo.post("/items", json={"n": 1, "poison": True})).json()["id"]

    async def letters() -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = (await demo.get("/v1/dead-letters")).json()["items"]
        return found

    [letter] = await eventually(letters, what="the poisoned item's dead letter")
    await page.get_by_role("link", name="Lettres mortes").click()
    listed = page.locator(f'tr[data-dead-letter="webhooks-{letter["seq"]}"]')
    await expect(listed).to_contain_text("demo.item_created")
    await expect(listed).to_contain_text("poisoned")
    await expect(listed.locator("pre.payload")).to_contain_text(item, use_inner_text=False)
    await shot(page, "dead-letters")

    # replayed before the cause is fixed: refused, said beside the list, the letter stays
    await listed.get_by_role("button", name="Rejouer").click()
    await expect(page.get_by_role("alert")).to_contain_text("refusé")
    await expect(listed).to_be_visible()
    await shot(page, "replay-refused")

    assert (await demo.post(f"/items/{item}/cure")).status_code == 204
    await listed.get_by_role("button", name="Rejouer").click()
    await expect(page.get_by_role("status").first).to_contain_text("rejouée avec succès")
    await expect(listed).to_have_count(0)
    assert await letters() == []
    await shot(page, "replayed")

    # the service wrote the replay in its audit trail under the operator's name
    trail = (await demo.get("/v1/audit", params={"action": "dead_letter.replayed"})).json()
    assert [e["actor_name"] for e in trail["items"]] == ["admin"], trail


async def test_a_dead_job_is_listed_and_retried_as_the_operator(
    ops: Dashboard, demo: httpx.AsyncClient
) -> None:
    initial = await ops.add_operator(ADMIN, "admin", name="Alice Payet")
    jar = await ops.sign_in_http(ADMIN, initial, "un cheval bleu traverse la baie")
    item = (await demo.post("/items", json={"n": 2})).json()["id"]
    assert (await demo.post(f"/items/{item}/deliveries")).status_code == 202

    async def dead() -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = (await demo.get("/v1/jobs?state=dead")).json()["items"]
        return found

    [job] = await eventually(dead, what="the delivery job dead (no sink)")
    listed = await ops.client.get("/evenements/taches", headers=jar)
    assert listed.status_code == 200
    assert f'data-dead-job="webhooks-{job["id"]}"' in listed.text
    assert "no sink configured" in listed.text
    assert "contrats ne répond pas" in listed.text  # the services that are down say so

    refused = await ops.client.post(
        f"/evenements/taches/webhooks/{job['id']}/relancer",
        data={"csrf_token": "forged"},
        headers=jar,
    )
    assert refused.status_code == 403
    retried = await ops.client.post(
        f"/evenements/taches/webhooks/{job['id']}/relancer",
        data={"csrf_token": csrf_of(listed.text)},
        headers=jar,
    )
    assert retried.status_code == 303
    assert retried.headers["location"] == "/evenements/taches?ok=job_retried"
    trail = (await demo.get("/v1/audit", params={"action": "job.retried"})).json()
    assert [e["actor_name"] for e in trail["items"]] == ["Alice Payet"]

    unknown = await ops.client.post(
        "/evenements/taches/nowhere/1/relancer",
        data={"csrf_token": csrf_of(listed.text)},
        headers=jar,
    )
    assert unknown.status_code == 404
    assert "Service inconnu" in unknown.text
