"""The dashboard's operational pages on the running platform, in a real headless Chromium: an
admin works through Facturation (the activation invoice, its Factur-X PDF inline, a cheque
recorded, the price book), Licences Microsoft 365 (seats per SKU, an initial password revealed
once after a confirmation), Sauvegardes (the plan and its 30-day picture), Événements, Journal
d'audit (the cheque under the admin's name, across services) and Administration (an operator
added with a one-time password, then disabled). A screenshot of every page visited is saved
under .artifacts/screenshots/."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from e2e_platform import eventually, ok
from playwright.async_api import Browser, Page, async_playwright, expect
from prisme_dashboard import manage
from prisme_dashboard.app import build_app as build_dashboard
from prisme_dashboard.settings import DashboardSettings
from prisme_dashboard.web.render import euros
from prisme_localinfra import free_port
from prisme_testing.browser import launch, new_context
from prisme_testing.runner import start_service

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from e2e_platform import Platform

SHOTS = Path(__file__).resolve().parents[2] / ".artifacts" / "screenshots"
PASSWORD = "une phrase de passe assez longue"


@pytest.fixture
async def dashboard_url(
    platform: Platform,
    base_settings: dict[str, Any],
    platform_keys: tuple[str, str],
    new_database: Callable[[], Awaitable[str]],
) -> AsyncIterator[tuple[str, str]]:
    """The dashboard on the platform's services (webhooks is not running: its parts say so)."""
    settings = DashboardSettings(
        **base_settings,
        database_url=await new_database(),
        signing_key=platform_keys[0],
        contracts_url=str(platform.contracts.base_url),
        billing_url=str(platform.billing.base_url),
        licence_url=str(platform.licence.base_url),
        video_url=str(platform.video.base_url),
        backup_url=str(platform.backup.base_url),
        webhooks_url=f"http://127.0.0.1:{free_port()}",
    )
    async with start_service(build_dashboard(settings)) as client:
        yield str(client.base_url).rstrip("/"), settings.database_url


@pytest.fixture
async def page(dashboard_url: tuple[str, str]) -> AsyncIterator[Page]:
    async with async_playwright() as playwright:
        browser: Browser = await launch(playwright)
        context = await new_context(browser)
        opened = await context.new_page()
        opened.on("dialog", lambda dialog: dialog.accept())
        yield opened
        await context.close()
        await browser.close()


class Shots:
    def __init__(self, test: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.test, self.n = test, 0

    async def __call__(self, page: Page, step: str) -> None:
        self.n += 1
        await page.screenshot(path=str(SHOTS / f"{self.test}-{self.n:02d}-{step}.png"))


async def add_admin(dsn: str, email: str, name: str) -> str:
    out = io.StringIO()
    argv = ["operators", "add", email, "--role", "admin", "--name", name]
    assert await manage.execute(argv, dsn, out) == 0, out.getvalue()
    found = re.search(r"une seule fois\) : (\S+)", out.getvalue())
    assert found
    return found.group(1)


async def sign_in(page: Page, url: str, email: str, initial: str) -> None:
    await page.goto(url + "/login")
    await page.get_by_label("Adresse e-mail").fill(email)
    await page.get_by_label("Mot de passe").fill(initial)
    await page.get_by_role("button", name="Se connecter").click()
    await page.get_by_label("Mot de passe actuel").fill(initial)
    await page.get_by_label("Nouveau mot de passe", exact=True).fill(PASSWORD)
    await page.get_by_label("Confirmez le nouveau mot de passe").fill(PASSWORD)
    await page.get_by_role("button", name="Enregistrer").click()
    await page.wait_for_url(url + "/?ok=password_changed")


async def test_an_admin_works_through_the_operational_pages(
    platform: Platform, dashboard_url: tuple[str, str], page: Page
) -> None:
    p = platform
    url, dsn = dashboard_url
    shot = Shots("operations")
    year = p.clock.today().year
    client = await p.practice(tag="Grondin", users=3, workstations=8)
    contract = ok(
        await p.contracts.post(
            "/v1/contracts",
            json={"client_id": client["id"], "offer": "prisme", "start_date": f"{year}-03-15"},
        ),
        201,
    )
    ok(await p.contracts.post(f"/v1/contracts/{contract['id']}/activate"))

    async def invoiced() -> list[Any]:
        return list(
            ok(await p.billing.get("/v1/invoices", params={"client_id": client["id"]}))["items"]
        )

    async def licensed() -> bool:
        accounts = await p.accounts(client_id=client["id"])
        return len(accounts) == 3 and all(a["status"] == "active" for a in accounts)

    async def planned() -> list[Any]:
        return list(
            ok(await p.backup.get("/v1/plans", params={"client_id": client["id"]}))["items"]
        )

    (invoice,) = await eventually(invoiced, "the activation invoice")
    await eventually(licensed, "three active accounts", 30)
    (plan,) = await eventually(planned, "the backup plan")

    await sign_in(
        page, url, "alice@prisme.re", await add_admin(dsn, "alice@prisme.re", "Alice Payet")
    )

    # Facturation: the invoice, filtered by practice and year, then its page and PDF
    await page.goto(url + f"/facturation?client_id={client['id']}&annee={year}")
    row = page.locator(f'tr[data-document="{invoice["number"]}"]')
    await expect(row).to_contain_text(euros(invoice["total_ttc"]))  # e.g. 3 340,80 €
    await shot(page, "facturation")
    await row.get_by_role("link", name=invoice["number"]).click()
    await expect(page.get_by_role("heading", name=re.compile(invoice["number"]))).to_be_visible()
    pdf = await page.request.get(url + f"/facturation/factures/{invoice['id']}/pdf")
    assert pdf.status == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"].startswith("inline")
    assert (await pdf.body()).startswith(b"%PDF")
    await page.get_by_label("Moyen de paiement").select_option("cheque")
    await page.get_by_label("Montant reçu (€)").fill("abc")
    await page.get_by_role("button", name="Enregistrer le paiement").click()
    await expect(page.locator("#amount-errors")).to_contain_text("montant positif")
    assert await page.get_by_label("Montant reçu (€)").input_value() == "abc"  # input kept
    await page.get_by_label("Montant reçu (€)").fill("100,00")
    await page.get_by_label("Référence (n° de chèque, libellé du virement)").fill("Chèque 4411")
    await page.get_by_role("button", name="Enregistrer le paiement").click()
    await expect(page.get_by_text("Le paiement est enregistré.")).to_be_visible()
    await expect(page.locator(".facts")).to_contain_text("100,00 €")
    await expect(page.locator("ol.history")).to_contain_text("Alice Payet")
    await shot(page, "facture")
    await page.goto(url + "/facturation/tarifs")
    await expect(page.locator("table").first).to_contain_text("prisme")
    await shot(page, "tarifs")

    # Licences: seats per SKU, then the one-time reveal of an initial password
    await page.goto(url + f"/licences?client_id={client['id']}")
    await expect(page.locator("tr[data-account]")).to_have_count(3)
    await expect(page.locator("#seats-title + table")).to_contain_text("3")
    await shot(page, "licences")
    first = page.locator("tr[data-account]").first
    upn = (await first.locator("td").first.inner_text()).strip()
    await first.get_by_role("link", name="Afficher le mot de passe").click()
    await expect(page.get_by_text("qu'une seule fois")).to_be_visible()
    await shot(page, "licence-confirmation")
    await page.get_by_role("button", name="Afficher maintenant").click()
    password = await page.get_by_label("Mot de passe initial").input_value()
    assert len(password) >= 12
    await expect(page.get_by_role("button", name="Copier le mot de passe")).to_be_visible()
    await shot(page, "licence-password")
    state = await p.graph_state()
    assert any(u["userPrincipalName"] == upn for u in state["users"])
    await page.goto(url + f"/licences?client_id={client['id']}")
    assert password not in await page.content()
    account_row = page.locator("tr[data-account]", has_text=upn)
    await expect(account_row).to_contain_text("déjà lu")

    # Sauvegardes: the plan, then its 30-day picture
    await page.goto(url + "/sauvegardes")
    await expect(page.locator(f'tr[data-plan="{plan["id"]}"]')).to_contain_text("jamais")
    await shot(page, "sauvegardes")
    await page.locator(f'tr[data-plan="{plan["id"]}"]').get_by_role("link").click()
    await expect(page.locator("svg.backup-calendar rect.day")).to_have_count(30)
    await expect(page.locator("svg.backup-calendar rect.day.pending")).to_have_count(1)
    await shot(page, "sauvegarde-plan")

    # Événements of this practice: its activation on the bus
    await page.goto(url + f"/evenements?practice={client['id']}")
    await expect(page.locator("#feed")).to_contain_text("Contrat activé")
    await shot(page, "evenements")

    # Journal d'audit: the cheque, recorded by billing-svc under the admin's name
    await page.goto(url + "/journal?action=payment.recorded")
    entry = page.locator('tr[data-audit-action="payment.recorded"]')
    await expect(entry).to_have_count(1)
    await expect(entry).to_contain_text("Alice Payet")
    await expect(entry).to_contain_text("facturation")
    await page.goto(url + "/journal")
    await expect(
        page.locator('tr[data-audit-action="licence.initial_password_revealed"]')
    ).to_have_count(1)
    await shot(page, "journal")

    # Administration: an accountant added (one-time password), then disabled
    await page.goto(url + "/admin")
    await page.get_by_label("Adresse e-mail").fill("marc@prisme.re")
    await page.get_by_label("Nom affiché").fill("Marc Técher")
    await page.locator("#add-title ~ form").get_by_label("Comptable").check()
    await page.get_by_role("button", name="Ajouter l'opérateur").click()
    initial = await page.get_by_label("Mot de passe initial").input_value()
    assert len(initial) >= 12
    await shot(page, "admin-operateur-ajoute")
    marc = page.locator('tr[data-operator="marc@prisme.re"]')
    await expect(marc).to_contain_text("actif")
    await marc.get_by_role("button", name="Désactiver").click()
    await expect(page.get_by_text("L'opérateur est désactivé")).to_be_visible()
    await expect(page.locator('tr[data-operator="marc@prisme.re"]')).to_contain_text("désactivé")
    # webhooks is not running here: the page says so instead of failing
    await expect(page.locator("#webhooks")).to_contain_text("ne répond pas")
    await shot(page, "admin")
