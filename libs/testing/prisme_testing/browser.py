"""Debian's Chromium (headless, driven by Playwright: no browser download) as a French-speaking
operator in La Réunion sees the dashboard: every browser test launches it with :func:`launch`
and opens its contexts with :func:`new_context`.

Two settings make the dates French. The context's ``locale`` and ``timezone_id`` (``Intl``,
``navigator.language``, ``Accept-Language``, times in Indian/Reunion). But Chromium draws the
fields of ``<input type="date">`` in its *application* locale, which Linux's Chromium takes
from ``LANGUAGE``/``LANG`` and which falls back to en-US (mm/dd/yyyy) unless its French
resources are installed (Debian's ``chromium-l10n``, ``/usr/lib/chromium/locales/fr.pak``; the
Makefile's ``APT_NEEDS`` installs it): :func:`launch` sets both, so the field reads jj/mm/aaaa.

Playwright comes with the workspace's dev dependencies (the root ``pyproject.toml``); only
browser tests import this module.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, BrowserContext, Page, Playwright

CHROMIUM = Path("/usr/bin/chromium")
#: the French resources Chromium needs for French date fields (Debian's chromium-l10n)
FRENCH_RESOURCES = Path("/usr/lib/chromium/locales/fr.pak")
LOCALE = "fr-FR"
TIMEZONE = "Indian/Reunion"
VIEWPORT = {"width": 1280, "height": 800}


def check_installed() -> None:
    """Debian's chromium and its French resources are there (or say what to install)."""
    assert CHROMIUM.exists(), "install Debian's chromium (make install does it as root)"
    assert FRENCH_RESOURCES.exists(), (
        "install Debian's chromium-l10n (make install does it as root): without it Chromium "
        "shows dates as mm/dd/yyyy"
    )


async def launch(playwright: Playwright, **options: Any) -> Browser:
    """Debian's Chromium, headless, its application locale French."""
    check_installed()
    env: dict[str, str | float | bool] = {
        k: v for k, v in os.environ.items() if not k.startswith("LC_")
    }
    env |= {"LANG": "fr_FR.UTF-8", "LANGUAGE": "fr"}
    return await playwright.chromium.launch(
        executable_path=str(CHROMIUM), args=["--no-sandbox", "--lang=fr-FR"], env=env, **options
    )


async def new_context(browser: Browser, **options: Any) -> BrowserContext:
    """A context in French, in La Réunion's time zone, at 1280×800 (``options`` add to or
    replace these, e.g. ``base_url``)."""
    settings: dict[str, Any] = {"viewport": VIEWPORT, "locale": LOCALE, "timezone_id": TIMEZONE}
    return await browser.new_context(**(settings | options))


async def date_field_parts(page: Page, label: str) -> list[str]:
    """The parts of the date field labelled ``label`` as Chromium draws them, in order, from
    its accessibility tree: ``["Jour", "Mois", "Année"]`` for a French jj/mm/aaaa field
    (``["Month", "Day", "Year"]`` in en-US)."""
    cdp = await page.context.new_cdp_session(page)
    try:
        tree = await cdp.send("Accessibility.getFullAXTree")
    finally:
        await cdp.detach()
    nodes = {n["nodeId"]: n for n in tree["nodes"]}

    def role(n: dict[str, Any]) -> str:
        return str(n.get("role", {}).get("value", ""))

    def name(n: dict[str, Any]) -> str:
        return str(n.get("name", {}).get("value", ""))

    def spinbuttons(n: dict[str, Any]) -> list[str]:
        # Chromium 156 names each part twice ("Jour Jour": its label and its placeholder)
        found = [name(n).split(" ")[0]] if role(n) == "spinbutton" else []
        for child in n.get("childIds", []):
            if child in nodes:
                found += spinbuttons(nodes[child])
        return found

    fields = [n for n in nodes.values() if role(n) == "Date" and name(n) == label]
    assert len(fields) == 1, f"{len(fields)} date fields labelled {label!r}"
    return spinbuttons(fields[0])
