"""More of the operators' day in a real headless Chromium, against the whole platform (issue 12):
an eligibility override needs its reason and the practice's history shows it with the reason
and the operator; a contract is renewed in one click from the old one; a licence that Microsoft
Graph failed is shown with Graph's error and retried from the Licences page.

Every visited page is saved under .artifacts/screenshots/ (1280×800)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from e2e_platform import eventually, ok
from playwright.async_api import Browser, Page, expect
from test_dashboard_day import (  # the day's fixtures and steps
    LIVE_MS,
    Shots,
    add_operator,
    browser,
    dashboard_url,
    sign_in,
)

if TYPE_CHECKING:
    from e2e_platform import Platform

__all__ = ["browser", "dashboard_url"]  # fixtures used by the tests below


@pytest.fixture
def licence_overrides() -> dict[str, Any]:
    """A Graph job is dead after two failed attempts (25 in production), so the failure shows
    within a second."""
    return {"max_attempts": 2}


async def technician(
    browser: Browser, dashboard_url: tuple[str, str], shot: Shots
) -> tuple[Page, str]:
    base, dsn = dashboard_url
    initial = await add_operator(dsn, "claire@prisme.re", "technician", "Claire Hoarau")
    _, page = await sign_in(browser, base, "claire@prisme.re", initial, shot, "technicien")
    return page, base


async def active_contract(platform: Platform, client_id: str) -> dict[str, Any]:
    year = platform.clock.today().year
    draft = ok(
        await platform.contracts.post(
            "/v1/contracts",
            json={"client_id": client_id, "offer": "prisme", "start_date": f"{year}-03-01"},
        ),
        201,
    )
    return dict(ok(await platform.contracts.post(f"/v1/contracts/{draft['id']}/activate")))


async def test_an_eligibility_override_needs_its_reason_and_is_in_the_history(
    platform: Platform, dashboard_url: tuple[str, str], browser: Browser
) -> None:
    shot = Shots("dashboard_derogation")
    client = await platform.practice(tag="Derogation", users=1, workstations=2)
    # a narrow upload: the internet speed criterion fails
    ok(
        await platform.contracts.put(
            f"/v1/clients/{client['id']}/network",
            json={"lan_count": 1, "download_mbps": 1000, "upload_mbps": 5},
        )
    )
    page, _ = await technician(browser, dashboard_url, shot)
    await page.goto(f"/cabinets/{client['id']}#eligibilite")
    section = page.locator("#eligibilite")
    await expect(section.locator("li.failed")).to_contain_text("Débit internet suffisant")
    await expect(page.locator(".badge.ok")).to_have_count(0)
    await section.get_by_text("Accorder une dérogation").click()
    await section.get_by_label("Critère").select_option("internet_speed")
    reason = section.get_by_label("Motif (obligatoire, conservé au journal d'audit)")

    # without a reason the browser does not send the form
    await section.get_by_role("button", name="Enregistrer la dérogation").click()
    assert await reason.evaluate("(el) => el.validity.valueMissing")
    await shot(page, "derogation-sans-motif-navigateur")
    # nor does the platform take it when the browser does not check (the field's rules removed)
    await reason.evaluate(
        "(el) => { el.removeAttribute('required'); el.removeAttribute('minlength'); }"
    )
    await section.get_by_role("button", name="Enregistrer la dérogation").click()
    await expect(page.locator("#eligibilite .field-error")).to_have_text("Au moins 3 caractère(s).")
    await expect(section.locator(".error")).to_contain_text("Un champ est à corriger")
    # refused: still not eligible, the chosen criterion kept in the form
    await expect(section.locator("li.failed")).to_contain_text("Débit internet suffisant")
    await expect(section.get_by_label("Critère")).to_have_value("internet_speed")
    await shot(page, "derogation-refusee")

    motif = "Fibre commandée, pose prévue le mois prochain"
    await section.get_by_label("Motif (obligatoire, conservé au journal d'audit)").fill(motif)
    await section.get_by_role("button", name="Enregistrer la dérogation").click()
    await expect(page.get_by_role("status")).to_contain_text("La dérogation est enregistrée")
    await expect(page.locator(".badge.ok")).to_contain_text("par dérogation")
    await expect(page.locator("#eligibilite li.overridden")).to_contain_text(f"« {motif} »")
    history = page.locator("#historique")
    entry = history.locator("li", has_text="Dérogation d'éligibilité accordée")
    await expect(entry).to_contain_text(motif)
    await expect(entry).to_contain_text("par Claire Hoarau")
    await history.scroll_into_view_if_needed()
    await shot(page, "derogation-historique")


async def test_a_contract_is_renewed_in_one_click_from_the_old_one(
    platform: Platform, dashboard_url: tuple[str, str], browser: Browser
) -> None:
    shot = Shots("dashboard_renouvellement")
    year = platform.clock.today().year
    client = await platform.practice(tag="Renouvellement", users=1, workstations=2)
    old = await active_contract(platform, client["id"])
    page, _ = await technician(browser, dashboard_url, shot)
    await page.goto(f"/cabinets/{client['id']}#contrats")
    contracts = page.locator("#contrats")
    await expect(contracts.locator("tbody tr")).to_have_count(1)
    await shot(page, "contrat-actif")

    await contracts.get_by_role("button", name=f"Renouveler pour {year + 1}").click()
    await expect(page.get_by_role("status")).to_contain_text("Le renouvellement est créé")
    rows = page.locator("#contrats tbody tr")
    await expect(rows).to_have_count(2)
    # next year's draft, the same offer, from 1 January; the old contract still runs
    await expect(rows.first).to_contain_text(str(year + 1))
    await expect(rows.first).to_contain_text("PRISME")
    await expect(rows.first).to_contain_text(f"1 janv. {year + 1}")
    await expect(
        rows.first.get_by_role("button", name=f"Activer le contrat {year + 1}")
    ).to_be_visible()
    await expect(rows.nth(1)).to_contain_text(str(year))
    await shot(page, "renouvellement-brouillon")

    listed = ok(await platform.contracts.get("/v1/contracts", params={"client_id": client["id"]}))
    renewal = next(c for c in listed["items"] if c["year"] == year + 1)
    assert (renewal["status"], renewal["offer"]) == ("draft", old["offer"])


async def test_a_failed_licence_shows_graphs_error_and_is_retried_from_the_page(
    platform: Platform, dashboard_url: tuple[str, str], browser: Browser
) -> None:
    shot = Shots("dashboard_licence_echec")
    client = await platform.practice(tag="Graphe", users=1, workstations=2)
    # Microsoft Graph answers 503 to everything: the provisioning job dies after its attempts
    ok(await platform.graph.post("/_sandbox/faults", json={"error_fraction": 1.0}))
    await active_contract(platform, client["id"])

    async def failed() -> list[dict[str, Any]] | None:
        accounts = await platform.accounts(client_id=client["id"])
        return accounts if accounts and accounts[0]["status"] == "failed" else None

    (account,) = await eventually(failed, "licence-svc to give up on the Graph job")
    page, _ = await technician(browser, dashboard_url, shot)
    await page.get_by_role("link", name="Licences", exact=True).click()
    row = page.locator(f'tr[data-failure="{account["id"]}"]')
    await expect(row).to_contain_text(account["upn"])
    await expect(row).to_contain_text(client["name"])  # the practice by its name, not its id
    await expect(row).to_contain_text(
        "Échec de la création du compte : Microsoft Graph indisponible"
    )
    await expect(row).to_contain_text(
        "Dernière erreur : Graph a répondu 503 : Service unavailable."
    )
    await shot(page, "licence-en-echec")

    ok(await platform.graph.post("/_sandbox/faults", json={"error_fraction": 0.0}))
    await row.get_by_role("button", name="Relancer").click()
    await expect(page.get_by_role("status")).to_contain_text(
        "L'appel à Microsoft Graph est relancé"
    )
    await shot(page, "licence-relancee")

    async def active() -> bool | None:
        (now,) = await platform.accounts(client_id=client["id"])
        return True if now["status"] == "active" else None

    await eventually(active, "the retried job to provision the account")
    await page.goto("/licences")
    # the practice found by its name (a search only this one matches), as an operator types it
    await page.get_by_label("Cabinet (nom, SIREN, ville ou identifiant)").fill(client["name"])
    await page.get_by_role("button", name="Filtrer").click()
    await expect(page.locator("#practice-note")).to_have_count(0)
    await expect(page.locator(f'tr[data-failure="{account["id"]}"]')).to_have_count(0)
    await expect(page.locator(f'tr[data-account="{account["id"]}"]')).to_contain_text(
        "actif", timeout=LIVE_MS
    )
    await shot(page, "licence-active")
