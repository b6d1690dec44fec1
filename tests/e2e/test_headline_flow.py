"""The platform's headline flow, end to end, through public HTTP APIs only.

A PRISME practice is created and activated in contracts-svc; licence-svc gives its users
Microsoft 365 accounts (Graph sandbox), billing-svc invoices the prorated year (Stripe sandbox),
backup-svc opens a backup plan, video-svc shares a recording. When the contract ends (cessation,
year-end) the accounts are revoked in the L3 order, the links answer 410 and billing credits
the unused days — except the accounts of a practice renewed for next year, which carry over.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from e2e_platform import (
    eventually,
    make_pdf,
    make_video,
    ok,
    prorated,
    yearly_ttc_from_vectors,
)
from prisme_chassis.clock import REUNION
from prisme_testing.events import drained

if TYPE_CHECKING:
    from e2e_platform import Platform

L3_ORDER = ["disable", "revoke_sessions", "remove_license", "delete"]


async def _activate(p: Platform, client: dict[str, Any], start: date) -> dict[str, Any]:
    contract = ok(
        await p.contracts.post(
            "/v1/contracts",
            json={"client_id": client["id"], "offer": "prisme", "start_date": start.isoformat()},
        ),
        201,
    )
    assert contract["status"] == "draft"
    active = ok(await p.contracts.post(f"/v1/contracts/{contract['id']}/activate"))
    assert active["status"] == "active"
    return dict(active)


async def _licensed(p: Platform, client: dict[str, Any], contract_id: str) -> list[dict[str, Any]]:
    """Wait until every user of ``client`` has an active account, enabled and licensed in Graph."""
    n = len(client["users"])

    async def done() -> list[dict[str, Any]] | None:
        accounts = await p.accounts(client_id=client["id"])
        if len(accounts) != n or any(a["status"] != "active" for a in accounts):
            return None
        return accounts

    accounts: list[dict[str, Any]] = await eventually(done, f"{n} active accounts", 30)
    assert {a["user_id"] for a in accounts} == {u["id"] for u in client["users"]}
    assert {a["id"] for a in await p.accounts(contract_id=contract_id)} == {
        a["id"] for a in accounts
    }
    graph_users = {u["userPrincipalName"]: u for u in (await p.graph_state())["users"]}
    for a in accounts:
        g = graph_users[a["upn"]]
        assert g["accountEnabled"] is True
        assert g["forceChangePasswordNextSignIn"] is True
        assert len(g["assignedLicenses"]) == 1
        assert g["deletedDateTime"] is None
    return accounts


async def _invoice(p: Platform, contract_id: str) -> dict[str, Any]:
    async def one() -> list[Any]:
        return list(
            ok(await p.billing.get("/v1/invoices", params={"contract_id": contract_id}))["items"]
        )

    (invoice,) = await eventually(one, "the activation invoice")
    return dict(invoice)


async def _stripe_invoice(p: Platform, document_id: str) -> dict[str, Any]:
    async def find() -> dict[str, Any] | None:
        page = ok(await p.stripe.get("/v1/invoices", params={"limit": 100}))
        mine = [i for i in page["data"] if i["metadata"].get("prisme_document_id") == document_id]
        assert len(mine) <= 1, "one Stripe invoice per document"
        return mine[0] if mine and mine[0]["status"] == "open" else None

    return dict(await eventually(find, "the invoice pushed to Stripe"))


async def _watch_link(p: Platform, link: dict[str, Any], original: bytes) -> Any:
    """Log in to the viewer with the link's password; the stream serves the recording."""
    viewer = p.viewer()
    page = await viewer.get(link["path"])
    assert page.status_code == 200
    assert "<video" not in page.text  # the password first
    assert (await viewer.get(f"{link['path']}/stream")).status_code == 401
    r = await viewer.post(link["path"], data={"password": link["password"]})
    assert r.status_code == 303, r.text
    full = await viewer.get(f"{link['path']}/stream")
    assert full.status_code == 200
    assert full.content == original
    part = await viewer.get(f"{link['path']}/stream", headers={"Range": "bytes=10-99"})
    assert part.status_code == 206
    assert part.content == original[10:100]
    return viewer


async def _link_dead(p: Platform, link: dict[str, Any], viewer: Any | None = None) -> None:
    """The link answers 410 (with the session cookie too) and serves no byte."""

    async def gone() -> bool:
        async with p.viewer() as anonymous:
            return bool((await anonymous.get(link["path"])).status_code == 410)

    await eventually(gone, "the link to answer 410")
    clients = [viewer] if viewer is not None else []
    async with p.viewer() as anonymous:
        for c in [*clients, anonymous]:
            stream = await c.get(f"{link['path']}/stream", headers={"Range": "bytes=0-99"})
            assert stream.status_code == 410
            assert stream.headers["content-type"].startswith("application/problem+json")
            assert (await c.get(link["path"])).status_code == 410
        post = await anonymous.post(link["path"], data={"password": link["password"]})
        assert post.status_code == 410


def _ops(state: dict[str, Any], upn: str, since: int = 0) -> list[str]:
    return [e["op"] for e in state["oplog"][since:] if e["upn"] == upn]


async def _revoked(p: Platform, accounts: list[dict[str, Any]]) -> None:
    """L3: every account disabled, sessions revoked, unlicensed and soft-deleted, in order."""
    ids = {a["id"] for a in accounts}

    async def all_revoked() -> bool:
        listed = [a for a in await p.accounts() if a["id"] in ids]
        return len(listed) == len(ids) and all(a["status"] == "revoked" for a in listed)

    await eventually(all_revoked, "licence-svc to revoke every account", 30)
    state = await p.graph_state()
    deleted = {u["userPrincipalName"]: u for u in state["deleted"]}
    live = {u["userPrincipalName"] for u in state["users"]}
    for a in accounts:
        assert a["upn"] not in live
        g = deleted[a["upn"]]
        assert g["accountEnabled"] is False
        assert g["assignedLicenses"] == []
        assert g["sessionsRevoked"] >= 1
        assert g["deletedDateTime"] is not None
        ops = _ops(state, a["upn"])
        assert ops[:2] == ["create", "assign_license"], ops
        assert ops[2:] == L3_ORDER, ops


async def test_activation_provisions_invoices_backs_up_and_shares_a_video(
    platform: Platform,
) -> None:
    p = platform
    year = p.clock.today().year
    client = await p.practice(tag="Payet", users=5, workstations=6, servers=1)
    eligibility = ok(await p.contracts.get(f"/v1/clients/{client['id']}/eligibility"))
    assert (eligibility["eligible"], eligibility["failures"]) == (True, [])
    start = date(year, 3, 15)
    contract = await _activate(p, client, start)
    assert contract["end_date"] == f"{year}-12-31"

    # L1: five enabled, licensed accounts in Graph, listed active by licence-svc.
    accounts = await _licensed(p, client, contract["id"])
    assert len(accounts) == 5
    state = await p.graph_state()
    assert len(state["users"]) == 5
    # The initial password is shown once (L1), and it is the one Graph was given.
    first = ok(await p.licence.post(f"/v1/accounts/{accounts[0]['id']}/credentials"))
    (graph_user,) = [u for u in state["users"] if u["userPrincipalName"] == accounts[0]["upn"]]
    assert hashlib.sha256(first["password"].encode()).hexdigest() == graph_user["passwordSha256"]
    assert (
        await p.licence.post(f"/v1/accounts/{accounts[0]['id']}/credentials")
    ).status_code == 410

    # B1/B2: one invoice, 7 postes (6 workstations + 1 server) prorated from 15 March.
    invoice = await _invoice(p, contract["id"])
    days = (date(year, 12, 31) - start).days + 1
    expected = prorated(yearly_ttc_from_vectors(7), days, year)
    assert Decimal(invoice["total_ttc"]) == expected
    assert invoice["currency"] == "EUR"
    assert invoice["number"].startswith(f"F{year}-")
    assert Decimal(invoice["total_ht"]) + Decimal(invoice["total_vat"]) == expected
    (line,) = invoice["lines"]
    assert (line["period_start"], line["period_end"]) == (start.isoformat(), f"{year}-12-31")
    # B8: the same amount is due in Stripe.
    si = await _stripe_invoice(p, invoice["id"])
    assert si["amount_due"] == int(expected * 100)

    # K1: a backup plan for the practice.
    async def plan() -> list[Any]:
        return list(
            ok(await p.backup.get("/v1/plans", params={"client_id": client["id"]}))["items"]
        )

    (backup_plan,) = await eventually(plan, "the backup plan")
    assert backup_plan["status"] == "active"

    # V1/V2: a technician's recording, shared by link + password, served by the viewer.
    original = make_video()
    link = await p.share(client["id"], contract["id"], original)
    assert link["status"] == "active"
    assert link["expires_at"].startswith(f"{year}-12-31T")
    viewer = await _watch_link(p, link, original)
    await viewer.aclose()


async def test_cessation_revokes_licences_kills_links_and_credits(platform: Platform) -> None:
    p = platform
    year = p.clock.today().year
    client = await p.practice(tag="Hoarau", users=3, workstations=6)
    start = date(year, 2, 1)
    contract = await _activate(p, client, start)
    accounts = await _licensed(p, client, contract["id"])
    invoice = await _invoice(p, contract["id"])
    # The practice pays its invoice by card on Stripe's hosted page.
    si = await _stripe_invoice(p, invoice["id"])
    ok(await p.stripe.post(f"/v1/invoices/{si['id']}/pay", data={"payment_method": "pm_card_visa"}))

    async def paid() -> bool:
        body = ok(await p.billing.get(f"/v1/invoices/{invoice['id']}"))
        return bool(body["status"] == "paid")

    await eventually(paid, "billing-svc to see the payment")

    async def plan() -> list[Any]:
        return list(
            ok(await p.backup.get("/v1/plans", params={"client_id": client["id"]}))["items"]
        )

    (backup_plan,) = await eventually(plan, "the backup plan")
    original = make_video(seconds=0.5)
    link = await p.share(client["id"], contract["id"], original)
    viewer = await _watch_link(p, link, original)

    # C6: the official document, approved by another operator.
    effective = p.clock.today()
    r = await p.contracts.post(
        f"/v1/contracts/{contract['id']}/terminations",
        data={"reason": "cessation", "effective_date": effective.isoformat()},
        files={"document": ("radiation-rcs.pdf", make_pdf("Radiation du RCS"), "application/pdf")},
    )
    termination = ok(r, 201)
    assert (
        await p.contracts.post(
            f"/v1/terminations/{termination['id']}/approve", json={"note": "radiation"}
        )
    ).status_code == 403
    assert ok(await p.contracts.get(f"/v1/contracts/{contract['id']}"))["status"] == "active"
    approved = ok(
        await p.contracts.post(
            f"/v1/terminations/{termination['id']}/approve",
            json={"note": "radiation du RCS vérifiée"},
            headers=p.bob,
        )
    )
    assert approved["approved_by"] == "op-bob"
    ended = ok(await p.contracts.get(f"/v1/contracts/{contract['id']}"))
    assert (ended["status"], ended["end_reason"]) == ("ended", "cessation")

    # V3: the link dies at once, even for the viewer already logged in.
    await _link_dead(p, link, viewer)
    await viewer.aclose()
    links = ok(await p.video.get("/v1/links", params={"client_id": client["id"]}))["items"]
    assert [x["status"] for x in links] == ["revoked"]

    # L3: every account revoked in Graph, in order.
    await _revoked(p, accounts)

    # B5: a credit note for the unused days, refunded on the card.
    yearly = yearly_ttc_from_vectors(6)
    unused = (date(year, 12, 31) - effective).days
    credit = prorated(yearly, unused, year)

    async def notes() -> list[Any]:
        return list(
            ok(await p.billing.get("/v1/credit-notes", params={"client_id": client["id"]}))["items"]
        )

    (note,) = await eventually(notes, "the credit note")
    assert note["invoice_id"] == invoice["id"]
    assert Decimal(note["total_ttc"]) == credit
    assert note["number"].startswith(f"A{year}-")

    async def refunded() -> dict[str, Any] | None:
        body = ok(await p.billing.get(f"/v1/contracts/{contract['id']}/billing"))
        return dict(body) if body["payment_status"] == "refunded" else None

    state = await eventually(refunded, "the refund")
    assert Decimal(state["total_refunded"]) == credit
    refunds = ok(await p.stripe.get("/v1/refunds"))["data"]
    assert [x["amount"] for x in refunds] == [int(credit * 100)]

    # K3: the backup plan ends with the cessation; its copies are destroyed once the 30-day
    # history after the last covered day has run out (the platform clock is moved there).
    async def plan_ended() -> dict[str, Any] | None:
        body = ok(await p.backup.get(f"/v1/plans/{backup_plan['id']}"))
        return dict(body) if body["status"] in ("ended", "purged") else None

    ended_plan = await eventually(plan_ended, "the backup plan to end")
    assert ended_plan["last_day"] == effective.isoformat()
    purge_at = datetime.fromisoformat(ended_plan["purge_after"])
    assert purge_at == datetime.combine(effective + timedelta(days=31), time(0), REUNION)
    p.clock.travel_to(purge_at + timedelta(minutes=1))

    async def purged() -> bool:
        body = ok(await p.backup.get(f"/v1/plans/{backup_plan['id']}"))
        return bool(body["status"] == "purged")

    await eventually(purged, "the copies of the ended plan to be destroyed")


async def test_year_end_carries_over_the_renewed_practices_only(platform: Platform) -> None:
    """Three practices: one renewed and activated ahead of the new year, one renewed (signed
    draft) and activated in January, one not renewed. POST /v1/year-end ends the three
    contracts; only the third loses its accounts; every old contract's link dies."""
    p = platform
    year = p.clock.today().year
    ahead = await p.practice(tag="Grondin", users=2, workstations=2)
    january = await p.practice(tag="Lebon", users=2, workstations=2)
    leaving = await p.practice(tag="Fontaine", users=2, workstations=2)
    practices = (ahead, january, leaving)
    old = {c["id"]: await _activate(p, c, date(year, 3, 1)) for c in practices}
    accounts = {c["id"]: await _licensed(p, c, old[c["id"]]["id"]) for c in practices}
    original = make_video(seconds=0.5)
    links = {c["id"]: await p.share(c["id"], old[c["id"]]["id"], original) for c in practices}

    # C2: a renewal is next year's draft, made by an operator from the old contract.
    renewals = {}
    for c in (ahead, january):
        r = ok(await p.contracts.post(f"/v1/contracts/{old[c['id']]['id']}/renew"), 201)
        assert (r["status"], r["year"], r["renewal_of"], r["start_date"]) == (
            "draft",
            year + 1,
            old[c["id"]]["id"],
            f"{year + 1}-01-01",
        )
        renewals[c["id"]] = r
    r = ok(await p.contracts.post(f"/v1/contracts/{renewals[ahead['id']]['id']}/activate"))
    assert r["status"] == "active"

    async def attached(client: dict[str, Any]) -> bool:
        listed = await p.accounts(contract_id=renewals[client["id"]]["id"])
        return {a["id"] for a in listed} == {a["id"] for a in accounts[client["id"]]} and all(
            a["status"] == "active" for a in listed
        )

    await eventually(lambda: attached(ahead), "the accounts re-attached to the early renewal")
    await _invoice(p, renewals[ahead["id"]]["id"])  # next year's invoice, at its activation
    before = await p.graph_state()

    # The year is not over yet: refused. On 1 January (Indian/Reunion) it runs.
    assert (await p.contracts.post("/v1/year-end", json={"year": year})).status_code == 409
    p.clock.travel_to(datetime(year + 1, 1, 1, 0, 0, 1, tzinfo=REUNION))
    run = ok(await p.contracts.post("/v1/year-end", json={"year": year}))
    assert (run["status"], run["ended"], run["remaining"]) == ("done", 3, 0)
    for k in old.values():
        got = ok(await p.contracts.get(f"/v1/contracts/{k['id']}"))
        assert (got["status"], got["end_reason"]) == ("ended", "year_end")
    # The signed draft survives the year-end and is activated in January.
    r = ok(await p.contracts.post(f"/v1/contracts/{renewals[january['id']]['id']}/activate"))
    assert r["status"] == "active"
    await eventually(lambda: attached(january), "the accounts carried over to the renewal")

    # V3: the links of every old contract die.
    for link in links.values():
        await _link_dead(p, link)
    # L3: the practice without a renewal loses its licences.
    await _revoked(p, accounts[leaving["id"]])

    # L3 carry-over: once licence-svc has handled every contract event and its Graph jobs are
    # done, no Graph operation touched the renewed practices' accounts.
    await eventually(
        lambda: drained(p.nats_url, "licence-contracts"), "licence-svc to handle the events"
    )

    async def no_open_jobs() -> bool:
        summary = ok(await p.licence.get("/v1/jobs/summary"))
        return bool(summary["queued"] == 0 and summary["failed"] == 0)

    await eventually(no_open_jobs, "licence-svc's Graph jobs to finish")
    after = await p.graph_state()
    users = {u["userPrincipalName"]: u for u in after["users"]}
    for c in (ahead, january):
        for a in accounts[c["id"]]:
            assert _ops(after, a["upn"], since=len(before["oplog"])) == []
            assert users[a["upn"]]["accountEnabled"] is True
            assert len(users[a["upn"]]["assignedLicenses"]) == 1
        listed = await p.accounts(client_id=c["id"])
        assert {(a["id"], a["status"]) for a in listed} == {
            (a["id"], "active") for a in accounts[c["id"]]
        }
    # Year-end is no cessation: nothing credited (B5).
    for c in practices:
        assert (
            ok(await p.billing.get("/v1/credit-notes", params={"client_id": c["id"]}))["items"]
            == []
        )


async def test_a_cancelled_or_expired_renewal_stops_what_was_carried_over(
    platform: Platform,
) -> None:
    """C8/L3/K3: a renewal draft counts as signed at the year-end, so the accounts and the backup
    plan carry over to it. When that draft is then cancelled (one practice), or is simply left
    unactivated until its own year ends (the other), the accounts are revoked in the L3 order
    and the backup plan stops."""
    p = platform
    year = p.clock.today().year
    withdrawn = await p.practice(tag="Payet", users=2, workstations=2)
    expiring = await p.practice(tag="Techer", users=2, workstations=2)
    practices = (withdrawn, expiring)
    old = {c["id"]: await _activate(p, c, date(year, 3, 1)) for c in practices}
    accounts = {c["id"]: await _licensed(p, c, old[c["id"]]["id"]) for c in practices}

    async def plan_of(client: dict[str, Any]) -> dict[str, Any]:
        async def one() -> list[Any]:
            return list(
                ok(await p.backup.get("/v1/plans", params={"client_id": client["id"]}))["items"]
            )

        (plan,) = await eventually(one, "the backup plan")
        return dict(plan)

    plans = {c["id"]: await plan_of(c) for c in practices}
    renewals = {
        c["id"]: ok(await p.contracts.post(f"/v1/contracts/{old[c['id']]['id']}/renew"), 201)
        for c in practices
    }

    p.clock.travel_to(datetime(year + 1, 1, 1, 0, 0, 1, tzinfo=REUNION))
    run = ok(await p.contracts.post("/v1/year-end", json={"year": year}))
    assert (run["status"], run["ended"]) == ("done", 2)

    async def carried_over(client: dict[str, Any]) -> bool:
        listed = await p.accounts(contract_id=renewals[client["id"]]["id"])
        return {a["id"] for a in listed} == {a["id"] for a in accounts[client["id"]]}

    for c in practices:
        await eventually(lambda c=c: carried_over(c), "the accounts carried over to the draft")
    await eventually(
        lambda: drained(p.nats_url, "backup-contracts"), "backup-svc to handle the year-end"
    )
    for c in practices:
        plan = ok(await p.backup.get(f"/v1/plans/{plans[c['id']]['id']}"))
        assert plan["status"] == "active", "the mirror carries over without interruption"

    async def plan_stopped(client: dict[str, Any]) -> dict[str, Any] | None:
        body = ok(await p.backup.get(f"/v1/plans/{plans[client['id']]['id']}"))
        return dict(body) if body["status"] in ("ended", "purged") else None

    # An operator cancels the first practice's draft in March.
    p.clock.travel_to(datetime(year + 1, 3, 10, 9, 0, tzinfo=REUNION))
    cancelled = ok(
        await p.contracts.post(f"/v1/contracts/{renewals[withdrawn['id']]['id']}/cancel")
    )
    assert cancelled["status"] == "cancelled"
    await _revoked(p, accounts[withdrawn["id"]])
    stopped = await eventually(lambda: plan_stopped(withdrawn), "the plan to stop")
    assert stopped["last_day"] == date(year + 1, 3, 10).isoformat()
    # The other practice's draft still carries its accounts and its plan.
    assert await carried_over(expiring)
    assert {a["status"] for a in await p.accounts(client_id=expiring["id"])} == {"active"}
    assert ok(await p.backup.get(f"/v1/plans/{plans[expiring['id']]['id']}"))["status"] == "active"

    # The second draft is never activated: the next year-end expires it.
    p.clock.travel_to(datetime(year + 2, 1, 1, 0, 0, 1, tzinfo=REUNION))
    ok(await p.contracts.post("/v1/year-end", json={"year": year + 1}))
    expired = ok(await p.contracts.get(f"/v1/contracts/{renewals[expiring['id']]['id']}"))
    assert expired["status"] == "cancelled"
    await _revoked(p, accounts[expiring["id"]])
    await eventually(lambda: plan_stopped(expiring), "the expired draft's plan to stop")

    # Exactly once: the contract events were handled and no account was revoked twice.
    await eventually(
        lambda: drained(p.nats_url, "licence-contracts"), "licence-svc to handle the events"
    )
    state = await p.graph_state()
    for c in practices:
        for a in accounts[c["id"]]:
            assert _ops(state, a["upn"])[2:] == L3_ORDER


async def test_a_cessation_scheduled_for_a_future_date_ends_and_credits_from_that_date(
    platform: Platform,
) -> None:
    """C6/B5: a practice announces in June that it closes on 30 September. The approved
    cessation waits; on 30 September the contract ends, its accounts are revoked and the
    credit note covers 1 October to 31 December."""
    p = platform
    year = p.clock.today().year
    client = await p.practice(tag="Riviere", users=2, workstations=6)
    contract = await _activate(p, client, date(year, 2, 1))
    accounts = await _licensed(p, client, contract["id"])
    invoice = await _invoice(p, contract["id"])
    closing = date(year, 9, 30)
    termination = ok(
        await p.contracts.post(
            f"/v1/contracts/{contract['id']}/terminations",
            data={"reason": "cessation", "effective_date": closing.isoformat()},
            files={"document": ("fermeture.pdf", make_pdf("Fermeture"), "application/pdf")},
        ),
        201,
    )
    approved = ok(
        await p.contracts.post(
            f"/v1/terminations/{termination['id']}/approve",
            json={"note": "fermeture annoncée au 30/09"},
            headers=p.bob,
        )
    )
    assert approved["scheduled"] is True
    assert ok(await p.contracts.get(f"/v1/contracts/{contract['id']}"))["status"] == "active"
    assert (
        ok(await p.billing.get("/v1/credit-notes", params={"client_id": client["id"]}))["items"]
        == []
    )

    p.clock.travel_to(datetime(year, 9, 30, 8, 0, tzinfo=REUNION))

    async def ended() -> dict[str, Any] | None:
        body = ok(await p.contracts.get(f"/v1/contracts/{contract['id']}"))
        return dict(body) if body["status"] == "ended" else None

    body = await eventually(ended, "the scheduled cessation", 30)
    assert (body["end_reason"], body["ended_on"]) == ("cessation", closing.isoformat())
    await _revoked(p, accounts)

    async def notes() -> list[Any]:
        return list(
            ok(await p.billing.get("/v1/credit-notes", params={"client_id": client["id"]}))["items"]
        )

    (note,) = await eventually(notes, "the credit note")
    assert note["invoice_id"] == invoice["id"]
    unused = (date(year, 12, 31) - closing).days
    assert Decimal(note["total_ttc"]) == prorated(yearly_ttc_from_vectors(6), unused, year)
