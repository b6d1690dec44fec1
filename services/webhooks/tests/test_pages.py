"""The webhooks lists are keyset pages (DESIGN §4): rows that share their time are neither
skipped nor repeated at a page's edge (the old cursor, a bare time, skipped them)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
from prisme_webhooks import repository


async def every_page(client: httpx.AsyncClient, path: str, **params: str) -> list[str]:
    seen: list[str] = []
    cursor = None
    while True:
        asked = {**params, "limit": "2", **({"cursor": cursor} if cursor else {})}
        page = (await client.get(path, params=asked)).json()
        seen += [row["id"] for row in page["items"]]
        if (cursor := page["next_cursor"]) is None:
            return seen


async def test_alerts_raised_at_the_same_instant_are_each_listed_once(
    webhooks: Callable[..., Any], webhooks_settings: Callable[..., Any]
) -> None:
    async with webhooks() as client:
        settings = await webhooks_settings()
        at = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
        conn = await asyncpg.connect(settings.database_url)
        try:
            for n in range(7):  # one batch: the same raised_at, as one event's alerts
                await repository.insert_alert(
                    conn, dedup_key=f"same-{n}", rule="backup.missed", urgent=False,
                    audience="technicians", subject=f"Alerte {n}", body="…",
                    raised_at=at, deliver_at=at,
                )  # fmt: skip
        finally:
            await conn.close()
        seen = await every_page(client, "/v1/alerts")
        assert len(seen) == 7
        assert len(set(seen)) == 7
        bad = await client.get("/v1/alerts", params={"cursor": "pas-un-curseur"})
        assert bad.status_code == 422
        assert bad.json()["type"].endswith("/invalid-cursor")


async def test_endpoints_are_paged_by_id(webhooks: Callable[..., Any]) -> None:
    async with webhooks() as client:
        made = []
        for n in range(5):
            r = await client.post(
                "/v1/endpoints",
                json={"url": f"http://127.0.0.1:9/hook{n}", "event_types": ["invoice.*"]},
            )
            assert r.status_code == 201, r.text
            made.append(r.json()["id"])
        assert sorted(await every_page(client, "/v1/endpoints")) == sorted(made)
