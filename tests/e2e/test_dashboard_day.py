"""The dashboard's headline day in a real headless Chromium (issue 12), against the whole
platform: a technician creates a practice, sees its eligibility failures beside the fields,
corrects them, activates a PRISME contract and sees the invoice, the licences and the backup
plan appear without reloading; requests a cessation with a PDF, cannot approve it himself; an
accountant approves it and the credit note appears.

Every visited page is saved under .artifacts/screenshots/ (1280×800)."""

from __future__ import annotations

import io
import re
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect
from prisme_chassis.money import eur_fr
from prisme_dashboard import manage
from prisme_dashboard.app import build_app as build_dashboard
from prisme_dashboard.settings import DashboardSettings
from prisme_testing.browser import launch, new_context
from prisme_testing.runner import start_service
from prisme_testing.vectors import billing_vectors

sys.path.insert(0, str(Path(__file__).parent))

from e2e_platform import make_pdf

if TYPE_CHECKING:
    from e2e_platform import Platform

SCREENSHOTS = Path(__file__).resolve().parents[2] / ".artifacts" / "screenshots"
PASSWORD = "une phrase de passe assez longue"
#: Playwright's own waiting (it polls the page): generous for a loaded machine
LIVE_MS = 30_000


def design_example(postes: int, start: date) -> Decimal:
    """The invoice of ``postes`` postes from ``start``, read from shared/vectors/billing.csv."""
    for row in billing_vectors():
        if (
            row["kind"] == "invoice"
            and row["postes_before"] == "0"
            and int(row["postes"]) == postes
            and row["date"] == start.isoformat()
        ):
            return Decimal(row["amount_ttc"])
    raise LookupError(f"no invoice vector for {postes} postes from {start}")


class Shots:
    def __init__(self, test: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.test = test
        self.n = 0

    async def __call__(self, page: Page, step: str) -> None:
        self.n += 1
        path = SCREENSHOTS / f"{self.test}-{self.n:02d}-{step}.png"
        await page.screenshot(path=str(path), full_page=False)


@pytest.fixture
async def dashboard_url(
    platform: Platform,
    base_settings: dict[str, Any],
    platform_keys: tuple[str, str],
    new_database: Callable[[], Awaitable[str]],
    tmp_path: Path,
) -> AsyncIterator[tuple[str, str]]:
    """The dashboard in this event loop, calling the platform's services; (URL, its DSN)."""
    data_dir = tmp_path / "dashboard"
    data_dir.mkdir()

    def url(client: Any) -> str:
        return str(client.base_url).rstrip("/")

    settings = DashboardSettings(
        **{**base_settings, "data_dir": data_dir},
        database_url=await new_database(),
        signing_key=platform_keys[0],
        contracts_url=url(platform.contracts),
        billing_url=url(platform.billing),
        licence_url=url(platform.licence),
        video_url=url(platform.video),
        backup_url=url(platform.backup),
    )
    async with start_service(build_dashboard(settings)) as client:
        yield url(client), settings.database_url


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await launch(playwright)
        yield launched
        await launched.close()


async def add_operator(dsn: str, email: str, role: str, name: str) -> str:
    out = io.StringIO()
    code = await manage.execute(
        ["operators", "add", email, "--role", role, "--name", name], dsn, out
    )
    assert code == 0, out.getvalue()
    found = re.search(r"une seule fois\) : (\S+)", out.getvalue())
    assert found, out.getvalue()
    return found.group(1)


async def sign_in(
    browser: Browser, base: str, email: str, initial: str, shot: Shots, who: str
) -> tuple[BrowserContext, Page]:
    context = await new_context(browser, base_url=base)
    page = await context.new_page()
    await page.goto("/cabinets")
    await expect(page).to_have_url(re.compile(r"/login$"))  # no session: the sign-in page
    await page.get_by_label("Adresse e-mail").fill(email)
    await page.get_by_label("Mot de passe", exact=True).fill(initial)
    await page.get_by_role("button", name="Se connecter").click()
    await page.get_by_label("Mot de passe actuel").fill(initial)
    await page.get_by_label("Nouveau mot de passe", exact=True).fill(PASSWORD)
    await page.get_by_label("Confirmez le nouveau mot de passe").fill(PASSWORD)
    await page.get_by_role("button", name="Enregistrer").click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Bonjour")
    await shot(page, f"{who}-accueil")
    return context, page


async def scroll_to(page: Page, element_id: str) -> None:
    """Scroll to a part of the page by id (the live part is swapped in and out by htmx)."""
    await page.evaluate(f"document.getElementById({element_id!r}).scrollIntoView()")


async def add_asset(
    page: Page, name: str, kind: str, os_name: str, supplied_by: str = "provider"
) -> None:
    section = page.locator("#equipements")
    if not await section.get_by_label("Nom", exact=True).is_visible():
        await section.get_by_text("Ajouter un équipement").click()
    await section.get_by_label("Nom", exact=True).fill(name)
    await section.get_by_label("Fonction").fill("serveur" if kind == "server" else "poste")
    await section.get_by_label("Type").select_option(kind)
    await section.get_by_label("Système d'exploitation").fill(os_name)
    await section.get_by_label("Fourni par").last.select_option(supplied_by)
    await section.get_by_role("button", name="Ajouter l'équipement").click()
    await expect(page.get_by_role("status")).to_contain_text("L'équipement est ajouté")


async def test_a_technicians_day_and_four_eyes(
    platform: Platform, dashboard_url: tuple[str, str], browser: Browser
) -> None:
    base, dsn = dashboard_url
    shot = Shots("dashboard_day")
    start = date(platform.clock.today().year, 3, 15)
    expected = design_example(8, start)
    tech_initial = await add_operator(dsn, "claire@prisme.re", "technician", "Claire Hoarau")
    accountant_initial = await add_operator(dsn, "anne@prisme.re", "accountant", "Anne Payet")

    _, page = await sign_in(browser, base, "claire@prisme.re", tech_initial, shot, "technicien")

    # --- a new practice, in Paris (not eligible) ---------------------------------------------
    await page.get_by_role("link", name="Cabinets", exact=True).click()
    await shot(page, "cabinets-vide")
    await page.get_by_role("link", name="Nouveau cabinet").click()
    main = page.locator("main")
    await main.get_by_label("Nom du cabinet").fill("Cabinet des Lataniers")
    await main.get_by_label("SIREN (9 chiffres)").fill("552100554")
    await main.get_by_label("Adresse", exact=True).fill("12 rue de Rivoli")
    await main.get_by_label("Code postal").fill("75001")
    await main.get_by_label("Ville").fill("Paris")
    await main.get_by_label("Nom du gérant").fill("Dr Payet")
    await main.get_by_label("E-mail du gérant").fill("payet@lataniers.re")
    await main.get_by_label("Téléphone du gérant").fill("0262 12 34 56")
    await shot(page, "nouveau-cabinet")
    await page.get_by_role("button", name="Créer le cabinet").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Cabinet des Lataniers")
    practice_url = page.url.split("?")[0]

    users = page.locator("#utilisateurs")
    for first, last, email in (
        ("Marie", "Grondin", "marie.grondin@lataniers.re"),
        ("Paul", "Técher", "paul.techer@lataniers.re"),
    ):
        await users.get_by_label("Prénom").fill(first)
        await users.get_by_label("Nom", exact=True).fill(last)
        await users.get_by_label("E-mail").fill(email)
        await users.get_by_role("button", name="Ajouter l'utilisateur").click()
        await expect(page.get_by_role("status")).to_contain_text("L'utilisateur est ajouté")
        if not await users.get_by_label("Prénom").is_visible():
            await users.get_by_text("Ajouter un utilisateur").click()

    network = page.locator("#reseau")
    await network.get_by_label("Réseaux locaux").fill("1")
    await network.get_by_label("Débit descendant (Mb/s)").fill("1000")
    await network.get_by_label("Débit montant (Mb/s)").fill("700")
    await network.get_by_role("button", name="Enregistrer le réseau").click()
    await expect(page.get_by_role("status")).to_contain_text("Le réseau est enregistré")

    for n in range(1, 8):
        await add_asset(page, f"PC{n}", "workstation", "Windows 11 Pro")
    await add_asset(page, "SRV1", "server", "Windows Server 2022", supplied_by="third_party")
    await add_asset(page, "IMP1", "peripheral", "firmware")
    await expect(page.locator("#equipements-titre")).to_contain_text("8 postes")

    # --- a PRISME contract from 15 March: refused, every failure beside its field ------------
    contracts = page.locator("#contrats")
    if not await contracts.get_by_label("Offre").is_visible():
        await contracts.get_by_text("Créer un contrat").click()
    await contracts.get_by_label("Offre").select_option("prisme")
    await contracts.get_by_label("Date de début").fill(start.isoformat())
    await contracts.get_by_role("button", name="Créer le contrat").click()
    await expect(page.get_by_role("status")).to_contain_text("brouillon")
    await contracts.get_by_role("button", name=f"Activer le contrat {start.year}").click()
    refusal = page.locator("#contrats .error")
    await expect(refusal).to_contain_text("Situé à La Réunion")
    await expect(refusal).to_contain_text("SRV1")
    # beside the fields: the postal code in the identity form, the server in the inventory
    await expect(page.locator("#id-postal-errors")).to_contain_text("75001")
    await expect(page.locator("#equipements .field-error")).to_contain_text("SRV1")
    await page.locator("#identite").scroll_into_view_if_needed()
    await shot(page, "activation-refusee")

    identity = page.locator("#identite")
    await identity.get_by_label("Code postal").fill("97490")
    await identity.get_by_label("Ville").fill("Sainte-Clotilde")
    await identity.get_by_role("button", name="Enregistrer la fiche").click()
    await expect(page.get_by_role("status")).to_contain_text("La fiche du cabinet est corrigée")
    await page.get_by_label("Fourni par (SRV1)").select_option("provider")
    await page.get_by_role("button", name="Modifier SRV1").click()
    await expect(page.get_by_role("status")).to_contain_text("L'équipement est modifié")
    await expect(page.locator(".badge.ok")).to_have_text("Éligible")
    await shot(page, "cabinet-eligible")

    # --- activation: the invoice, the licences and the plan appear without reloading --------
    await page.get_by_role("button", name=f"Activer le contrat {start.year}").click()
    await expect(page.get_by_role("status")).to_contain_text("Le contrat est activé")
    await page.evaluate("window.__notReloaded = true")
    live = page.locator("#direct")
    await expect(live.locator("#factures")).to_contain_text(eur_fr(expected), timeout=LIVE_MS)
    await expect(live.locator("#licences li")).to_have_count(2, timeout=LIVE_MS)
    await expect(live.locator("#licences")).to_contain_text("marie.grondin", timeout=LIVE_MS)
    await expect(live.locator("#sauvegarde")).to_contain_text("Plan actif", timeout=LIVE_MS)
    assert await page.evaluate("window.__notReloaded === true"), "the page was reloaded"
    await scroll_to(page, "direct")
    await shot(page, "factures-licences-sauvegarde")

    # the global search finds the practice by its invoice number, a user's e-mail, the SIREN
    number = (await live.locator("#factures li").first.inner_text()).split()[1]
    for typed in (number, "paul.techer@", "552100554"):
        await page.get_by_label(re.compile("^Rechercher un cabinet")).fill(typed)
        await page.get_by_role("button", name="Rechercher", exact=True).first.click()
        await expect(page.locator("table")).to_contain_text("Cabinet des Lataniers")
    await shot(page, "recherche-par-facture")

    await page.get_by_role("link", name="Contrats", exact=True).click()
    await expect(page.locator("table")).to_contain_text("Cabinet des Lataniers")
    await shot(page, "contrats")

    # --- cessation with the official PDF; not approvable by its maker -----------------------
    await page.goto(practice_url)
    await contracts.get_by_text("Demander la cessation").click()
    await contracts.get_by_label("Document officiel de cessation").set_input_files(
        files=[
            {
                "name": "radiation-ordre-des-medecins.pdf",
                "mimeType": "application/pdf",
                "buffer": make_pdf("Radiation du Dr Payet"),
            }
        ]
    )
    await contracts.get_by_role("button", name="Envoyer la demande de cessation").click()
    await expect(page.get_by_role("status")).to_contain_text("un autre opérateur doit la valider")
    await page.get_by_role("link", name="À valider").click()
    mine = page.locator("article.request")
    await expect(mine).to_have_count(1)
    await expect(mine).to_contain_text("Votre demande")
    await expect(mine).to_contain_text("Claire Hoarau")
    await expect(mine.get_by_role("button", name="Approuver")).to_have_count(0)
    await shot(page, "a-valider-technicien")

    # --- the accountant approves; the credit note appears -----------------------------------
    _, other = await sign_in(browser, base, "anne@prisme.re", accountant_initial, shot, "comptable")
    await expect(other.locator("#valider-titre + p.big")).to_have_text("1")
    await other.get_by_role("link", name="À valider").click()
    request = other.locator("article.request")
    await expect(request).to_contain_text("Demandée par")
    await expect(request).to_contain_text("Claire Hoarau")
    await expect(request.locator("pre.payload")).to_contain_text("radiation-ordre-des-medecins")
    await request.get_by_label("Note de décision (obligatoire)").fill("Radiation vue, conforme.")
    await shot(other, "a-valider-comptable")
    await request.get_by_role("button", name="Approuver").click()
    await expect(other.get_by_role("status")).to_contain_text("La cessation est approuvée")
    await expect(other.locator("article.request")).to_have_count(0)
    await other.goto(practice_url)
    await expect(other.locator("#contrats")).to_contain_text("Terminé")
    await expect(other.locator("#factures")).to_contain_text("Avoir", timeout=LIVE_MS)
    await scroll_to(other, "direct")
    await shot(other, "avoir")
    await other.locator("#historique").scroll_into_view_if_needed()
    await expect(other.locator("#historique")).to_contain_text("Cessation approuvée")
    await expect(other.locator("#historique")).to_contain_text("par Anne Payet")
    await shot(other, "historique")


async def test_the_year_end_from_the_contracts_page(
    platform: Platform, dashboard_url: tuple[str, str], browser: Browser
) -> None:
    """Refused while the year runs (shown on the page, nothing ended); on 1 January the run
    shows its progress and ends with every active contract of the year counted. (Travelling
    wakes contracts-svc's own year-end check too: whichever starts first, the run is one.)"""
    base, dsn = dashboard_url
    shot = Shots("dashboard_year_end")
    year = platform.clock.today().year
    for tag in ("Grondin", "Lebon"):
        client = await platform.practice(tag=tag, users=1, workstations=2)
        draft = await platform.contracts.post(
            "/v1/contracts",
            json={"client_id": client["id"], "offer": "prisme", "start_date": f"{year}-03-01"},
        )
        assert draft.status_code == 201, draft.text
        active = await platform.contracts.post(f"/v1/contracts/{draft.json()['id']}/activate")
        assert active.status_code == 200, active.text
    initial = await add_operator(dsn, "paul@prisme.re", "technician", "Paul Técher")
    _, page = await sign_in(browser, base, "paul@prisme.re", initial, shot, "technicien")

    await page.get_by_role("link", name="Contrats", exact=True).click()
    await page.get_by_label("État").select_option("active")
    await page.get_by_role("button", name="Filtrer").click()
    await expect(page.locator("tbody tr")).to_have_count(2)
    await page.get_by_role("link", name="Clôture de l'année").click()
    await expect(page.locator("#progression")).to_contain_text("2 restants")
    await page.get_by_role("button", name="Lancer la clôture").click()
    # the year is not over: contracts-svc refuses, the page says so, nothing ended
    await expect(page.locator("#progression .error")).to_contain_text(
        "L'année n'est pas terminée", timeout=LIVE_MS
    )
    await expect(page.locator("#progression")).to_contain_text("0 contrat terminé")
    await shot(page, "cloture-refusee")

    platform.clock.travel_to(platform.clock.now().replace(year=year + 1, month=1, day=1, hour=8))
    await page.goto(f"/contrats/cloture?annee={year}")
    await page.get_by_role("button", name="Lancer la clôture").click()
    progress = page.locator("#progression")
    await expect(progress).to_have_attribute("data-status", "done", timeout=LIVE_MS)
    await expect(progress).to_contain_text("2 contrats terminés, 0 restant")
    # the box keeps refreshing until licence, video and billing followed every contract.ended
    await expect(progress).to_have_attribute("data-complete", "true", timeout=LIVE_MS)
    lines = {
        "licences": "2 licences retirées, 0 à retirer — 2 sur 2 contrats reçus.",
        "videos": "0 lien révoqué, 0 encore actif — 2 sur 2 contrats reçus.",
        "billing": "2 contrats clos, 0 en attente d'un prix au barème — 2 sur 2 contrats reçus.",
    }
    for key, text in lines.items():
        line = progress.locator(f'li[data-line="{key}"]')
        await expect(line).to_contain_text(text)
        await expect(line.locator("progress")).to_have_attribute("value", "1000")
    await expect(progress).not_to_have_attribute("hx-get", re.compile(".*"))
    await expect(progress.locator(".error")).to_have_count(0)
    await shot(page, "cloture-terminee")
    await page.goto(f"/contrats?annee={year}&status=ended")
    await expect(page.locator("tbody tr")).to_have_count(2)
