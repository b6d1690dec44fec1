"""Événements over HTTP: the feed page, the server-sent events stream and its resume with
``Last-Event-ID`` (nothing missed, nothing twice), filters, and sign-in required."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import httpx
from prisme_events import ContractEnded, Event, InvoicePaid
from prisme_testing.events import publish_event

from .conftest import Dashboard

PASSWORD = "un cheval bleu traverse la baie"


def ended(client_id: uuid.UUID | None = None) -> ContractEnded:
    return ContractEnded(
        contract_id=uuid.uuid4(),
        client_id=client_id or uuid.uuid4(),
        version=2,
        offer="prisme",
        includes=[],
        year=2026,
        reason="year_end",
        effective_date=date(2026, 12, 31),
        ended_at=datetime(2026, 12, 31, 20, tzinfo=UTC),
        postes=3,
    )


async def sse_events(response: httpx.Response) -> AsyncIterator[dict[str, str]]:
    """The server-sent events of a streamed response, one dict (id, event, data) each."""
    current: dict[str, str] = {}
    async for line in response.aiter_lines():
        if line == "":
            if current:
                yield current
            current = {}
            continue
        if line.startswith(":"):
            current.setdefault("comment", line)
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        current[name] = current[name] + "\n" + value if name in current else value


async def next_feed(response: AsyncIterator[dict[str, str]]) -> dict[str, str]:
    async for event in response:
        if event.get("event") == "feed":
            return event
    raise AssertionError("the stream ended")


async def signed_in(dashboard: Dashboard) -> dict[str, str]:
    initial = await dashboard.add_operator("eve@prisme.re", "admin")
    return await dashboard.sign_in_http("eve@prisme.re", initial, PASSWORD)


async def test_pages_need_a_session(dashboard: Dashboard) -> None:
    for path in ("/evenements", "/evenements/flux"):
        answer = await dashboard.client.get(path)
        assert answer.status_code == 303, path
        assert answer.headers["location"] == "/login"


async def test_the_feed_lists_then_streams_and_resumes_where_it_stopped(
    dashboard: Dashboard, nats_url: str
) -> None:
    jar = await signed_in(dashboard)
    first = ended()
    await publish_event(nats_url, first)
    listed = await dashboard.client.get("/evenements", headers=jar)
    assert listed.status_code == 200
    assert str(first.event_id) in listed.text
    assert "Contrat terminé" in listed.text
    assert "default-src 'none'" in listed.headers["content-security-policy"]

    second, third = ended(), ended()
    stream_url = listed.text.split('data-feed-url="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    async with dashboard.client.stream("GET", stream_url, headers=jar) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse_events(response)
        await publish_event(nats_url, second)
        got = await next_feed(events)
        assert str(second.event_id) in got["data"]
        assert str(first.event_id) not in got["data"]  # the page had it: not sent twice
        resume_at = got["id"]
        await events.aclose()

    # the browser lost the connection; meanwhile a third event; it comes back with its last id
    await publish_event(nats_url, third)
    headers = {**jar, "Last-Event-ID": resume_at}
    async with dashboard.client.stream("GET", "/evenements/flux", headers=headers) as response:
        got = await next_feed(sse_events(response))
        assert str(third.event_id) in got["data"]


async def test_filters_by_subject_and_practice(dashboard: Dashboard, nats_url: str) -> None:
    jar = await signed_in(dashboard)
    practice = uuid.uuid4()
    mine, other = ended(practice), ended()
    paid: Event = InvoicePaid(
        client_id=practice, invoice_id=uuid.uuid4(), version=2, number="F-2026-0001",
        amount="10.00", method="transfer",
    )  # fmt: skip
    for event in (mine, other, paid):
        await publish_event(nats_url, event)
    by_practice = await dashboard.client.get(
        "/evenements", params={"practice": str(practice)}, headers=jar
    )
    assert str(mine.event_id) in by_practice.text
    assert str(paid.event_id) in by_practice.text
    assert str(other.event_id) not in by_practice.text
    both = await dashboard.client.get(
        "/evenements", params={"practice": str(practice), "subject": "contract.>"}, headers=jar
    )
    assert str(mine.event_id) in both.text
    assert str(paid.event_id) not in both.text
    # what is not a filter is ignored or said, never a 500
    odd = await dashboard.client.get(
        "/evenements", params={"practice": "pas un uuid", "subject": "$JS.>"}, headers=jar
    )
    assert odd.status_code == 200
    assert "n'est pas un identifiant de cabinet" in odd.text
    bad_resume = {**jar, "Last-Event-ID": "CONTRACTS:x,NOPE:1"}
    async with dashboard.client.stream("GET", "/evenements/flux", headers=bad_resume) as r:
        assert r.status_code == 200
