"""Vidéos in a real headless Chromium, against a real video-svc: the technician uploads a
recording with a progress bar, comments it, plays it, shares a link and reads its password once;
the link works in a second browser context with that password, shows in the access log, and
answers 410 once revoked."""

from __future__ import annotations

import io
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import av
import httpx
import pytest
from playwright.async_api import Browser, Page, expect
from prisme_testing import factories
from prisme_testing.browser import new_context
from prisme_testing.events import publish_event
from prisme_testing.polling import eventually
from prisme_testing.runner import start_service
from prisme_video.app import build_app as build_video
from prisme_video.settings import VideoSettings

from .conftest import Dashboard
from .test_browser import ready_operator

Shot = Callable[[Any, str], Awaitable[None]]


def recording(seconds: float = 3.0) -> bytes:
    """A small real MP4 (H.264), encoded here: no binary fixture."""
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        for i in range(int(seconds * 10)):
            frame = av.VideoFrame(160, 120, "rgb24")
            row = bytes((x + i * 8) % 256 for x in range(160 * 3))
            frame.planes[0].update((row + bytes(frame.planes[0].line_size - len(row))) * 120)
            for packet in stream.encode(frame.reformat(format="yuv420p")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()


@pytest.fixture
async def video_dsn(new_database: Callable[[], Awaitable[str]]) -> str:
    return await new_database()


@pytest.fixture
async def video_svc(
    base_settings: dict[str, Any], video_dsn: str, auth_headers: dict[str, str]
) -> AsyncIterator[httpx.AsyncClient]:
    settings = VideoSettings(
        **base_settings,
        database_url=video_dsn,
        chunk_size=64 * 1024,
        throttle_base_delay_seconds=0,
        argon2_time_cost=1,
        argon2_memory_kib=8 * 1024,
        retention_interval_seconds=3600,
    )
    async with start_service(build_video(settings), headers=auth_headers) as client:
        yield client


@pytest.fixture
async def ops(
    dashboard_settings_factory: Callable[..., Awaitable[Any]], video_svc: httpx.AsyncClient
) -> AsyncIterator[Dashboard]:
    from prisme_dashboard.app import build_app

    settings = await dashboard_settings_factory(video_url=str(video_svc.base_url))
    app = build_app(settings)
    async with start_service(app) as client:
        yield Dashboard(client=client, dsn=settings.database_url, settings=settings, app=app)


@pytest.fixture
async def pages(browser: Browser, ops: Dashboard) -> AsyncIterator[tuple[Page, Page]]:
    """The technician's page and, in a context of its own, the practice's viewer."""
    contexts = [await new_context(browser) for _ in range(2)]
    technician, viewer = [await c.new_page() for c in contexts]
    technician.on("dialog", lambda dialog: dialog.accept())
    yield technician, viewer
    for context in contexts:
        await context.close()


async def test_upload_comment_share_and_view_with_the_password(
    pages: tuple[Page, Page],
    ops: Dashboard,
    video_svc: httpx.AsyncClient,
    video_dsn: str,
    nats_url: str,
    shot: Shot,
) -> None:
    page, viewer = pages
    client_id = uuid.uuid4()
    now = datetime.now(UTC)
    activated = factories.contract_activated(
        client=factories.client_snapshot(client_id, name="Cabinet du Dr Payet"),
        version=1,
        offer="prisme",
        includes=["video_recordings"],
        start=now.date(),
        ends_at=now + timedelta(days=200),
        postes=8,
        peripherals=1,
    )
    await publish_event(nats_url, activated)

    async def contract_active() -> bool:
        conn = await asyncpg.connect(video_dsn)
        try:
            status = await conn.fetchval(
                "SELECT status FROM contracts WHERE contract_id = $1", activated.contract_id
            )
        finally:
            await conn.close()
        return bool(status == "active")

    await eventually(contract_active, what="the contract projected in video-svc")
    await ready_operator(page, ops, "tech@prisme.re", "technician")

    await page.goto(ops.url + f"/videos?client_id={client_id}&contract_id={activated.contract_id}")
    await expect(page.get_by_role("heading", name="Vidéos des interventions")).to_be_visible()
    await page.get_by_label("Titre").fill("Mise à jour du serveur, poste 3")
    data = recording()
    await page.get_by_label("Fichier de l'enregistrement").set_input_files(
        {"name": "intervention.mp4", "mimeType": "video/mp4", "buffer": data}
    )
    await shot(page, "upload-form")
    # the progress bar shows while the file goes, and reaches 100 %: a local upload can end
    # (and the page move on) before a locator polls the bar, so the page records what the bar
    # showed in sessionStorage, which outlives the navigation to the video's page
    await page.evaluate(
        """() => {
          const bar = document.getElementById("upload-bar");
          const box = document.getElementById("upload-progress");
          new MutationObserver(() => {
            const seen = JSON.parse(sessionStorage.getItem("upload-seen") || "[]");
            seen.push({value: bar.getAttribute("value"), shown: !box.hidden});
            sessionStorage.setItem("upload-seen", JSON.stringify(seen));
          }).observe(bar, {attributes: true, attributeFilter: ["value"]});
        }"""
    )
    await page.get_by_role("button", name="Téléverser").click()
    await page.wait_for_url("**/videos/*?ok=video_uploaded")
    seen = await page.evaluate('() => JSON.parse(sessionStorage.getItem("upload-seen") || "[]")')
    assert seen, "the progress bar never moved"
    assert all(step["shown"] for step in seen)
    assert seen[-1]["value"] == "100"
    await expect(
        page.get_by_role("heading", name="Mise à jour du serveur, poste 3")
    ).to_be_visible()
    await expect(page.get_by_text("L'enregistrement est téléversé et chiffré.")).to_be_visible()

    # the player reads the recording through the dashboard (Range relayed from video-svc)
    duration = await page.locator("#player").evaluate(
        "p => new Promise(ok => p.readyState >= 1 ? ok(p.duration)"
        " : p.addEventListener('loadedmetadata', () => ok(p.duration)))"
    )
    assert 2.5 < float(duration) < 3.5
    await shot(page, "video-page")

    await page.get_by_label("Moment (secondes depuis le début)").fill("1,5")
    await page.get_by_label("Commentaire", exact=True).fill(
        "Redémarrage du serveur après la mise à jour"
    )
    await page.get_by_role("button", name="Ajouter le commentaire").click()
    comment = page.locator(".comment-list li").first
    await expect(comment).to_contain_text("0:01")
    await expect(comment).to_contain_text("Redémarrage du serveur après la mise à jour")
    await expect(comment).to_contain_text("tech")  # the author's name, not an id

    video_page = ops.url + urlsplit(page.url).path
    await page.get_by_role("button", name="Créer un lien de partage").click()
    url = await page.get_by_label("Adresse du lien").input_value()
    password = await page.get_by_label("Mot de passe", exact=True).input_value()
    assert url.startswith("http")
    assert "/v/" in url
    assert len(password) >= 10
    await expect(page.get_by_role("button", name="Copier le mot de passe")).to_be_visible()
    await page.locator("#new-link").scroll_into_view_if_needed()
    await shot(page, "link-created")

    # shown once: the page again has neither the password nor the link's token
    await page.goto(video_page)
    await expect(page.locator("table.links tbody tr[data-link]")).to_have_count(1)
    content = await page.content()
    assert password not in content
    assert urlsplit(url).path not in content

    # the practice opens the link in another browser with the password (video-svc's viewer;
    # the link names video-svc's public URL, here the test's port)
    link = str(video_svc.base_url).rstrip("/") + urlsplit(url).path
    await viewer.goto(link)
    await viewer.get_by_label("Mot de passe").fill("pas le bon mot de passe")
    await viewer.get_by_role("button").first.click()
    await expect(viewer.locator("video")).to_have_count(0)
    await viewer.get_by_label("Mot de passe").fill(password)
    await viewer.get_by_role("button").first.click()
    await expect(viewer.locator("video")).to_have_count(1)
    played = await viewer.locator("video").evaluate(
        "v => new Promise(ok => v.readyState >= 1 ? ok(v.duration)"
        " : v.addEventListener('loadedmetadata', () => ok(v.duration)))"
    )
    assert 2.5 < float(played) < 3.5
    await shot(viewer, "viewer")

    # the operator sees the link's access log, then revokes it: the viewer gets 410
    await page.reload()
    row = page.locator("table.links tbody tr[data-link]").first
    await row.get_by_text("accès").click()
    await expect(row).to_contain_text("Mot de passe refusé")
    await expect(row).to_contain_text("Mot de passe accepté")
    await row.scroll_into_view_if_needed()
    await shot(page, "access-log")
    await row.get_by_role("button", name="Révoquer").click()
    await expect(page.get_by_text("Le lien est révoqué")).to_be_visible()
    await expect(page.locator("table.links tbody tr").first).to_contain_text("révoqué")
    gone = await viewer.goto(link)
    assert gone is not None
    assert gone.status == 410
    await shot(page, "link-revoked")
