"""R1 on the whole platform (DESIGN §8, issue 17 item 8): the headline flow under a burst
while every service is ``kill -9``ed in turn, NATS is restarted and PostgreSQL is restarted;
at the end every effect exists exactly once in every service and in the sandboxes, and
nothing sits in a dead letter or a dead job. Once with one process of each service, once
with two replicas of licence-svc and billing-svc on the same database and NATS.

The burst: PRACTICES practices (USERS users each) created and activated in contracts-svc,
CEASING of them paid by card then ended by a cessation (four eyes), a recording shared for
LINKED of them, and the rest ended by the year-end after ``prisme clock travel`` to 1 January.
"""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from datetime import date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from prisme_chassis.clock import REUNION
from prisme_testing import polling

sys.path.insert(0, str(Path(__file__).parent))

from e2e_platform import make_pdf, make_video
from r1_platform import TENANT, R1Platform, r1_platform

PRACTICES = 12
USERS = 2
CEASING = 4
LINKED = 3
REVOCATION = ["disable", "revoke_sessions", "remove_license", "delete"]

pytestmark = pytest.mark.timeout(900)


async def eventually(check: Any, what: str, timeout: float = 180.0) -> Any:
    return await polling.eventually(check, timeout, what, interval=0.25)


def ok(r: Any, status: int = 200) -> Any:
    assert r.status_code == status, f"{r.request.method} {r.request.url}: {r.status_code} {r.text}"
    return r.json()


async def _practice(p: R1Platform, i: int) -> dict[str, Any]:
    """A PRISME-eligible practice, through contracts-svc's API (not killed meanwhile)."""
    tag = f"R{i:03d}"
    client = ok(
        await p.call(
            "POST",
            "contracts",
            "/v1/clients",
            json={
                "name": f"Cabinet médical {tag}",
                "siren": "732829320",
                "manager": {
                    "name": f"Dr {tag}",
                    "email": f"gerant.{tag.lower()}@cabinet.re",
                    "phone": "0262 12 34 56",
                },
                "address": {
                    "line1": "1 rue de Paris",
                    "postal_code": "97490",
                    "city": "Sainte-Clotilde",
                },
            },
        ),
        201,
    )
    cid = client["id"]
    ok(
        await p.call(
            "PUT",
            "contracts",
            f"/v1/clients/{cid}/network",
            json={"lan_count": 1, "download_mbps": 1000, "upload_mbps": 700},
        )
    )
    for name, kind, function, os_name in (
        ("PC1", "workstation", "poste de consultation", "Windows 11 Pro"),
        ("PC2", "workstation", "poste de consultation", "Windows 11 Pro"),
        ("IMP1", "peripheral", "imprimante", "firmware"),
    ):
        ok(
            await p.call(
                "POST",
                "contracts",
                f"/v1/clients/{cid}/assets",
                json={
                    "name": name,
                    "function": function,
                    "kind": kind,
                    "form": "physical",
                    "os": os_name,
                    "supplied_by": "provider",
                },
            ),
            201,
        )
    client["users"] = [
        ok(
            await p.call(
                "POST",
                "contracts",
                f"/v1/clients/{cid}/users",
                json={
                    "first_name": f"Prénom{u}",
                    "last_name": tag,
                    "email": f"u{u}.{tag.lower()}@cabinet.re",
                    "role": "practitioner" if u == 0 else "assistant",
                },
            ),
            201,
        )
        for u in range(USERS)
    ]
    return dict(client)


async def _activate(p: R1Platform, client: dict[str, Any], start: date) -> dict[str, Any]:
    contract = ok(
        await p.call(
            "POST",
            "contracts",
            "/v1/contracts",
            json={"client_id": client["id"], "offer": "prisme", "start_date": start.isoformat()},
        ),
        201,
    )

    async def activated() -> dict[str, Any] | None:
        # B1: contracts-svc asks billing's price book first; billing may be down (killed):
        # the operator tries again, and an activation already done is seen as such.
        r = await p.call("POST", "contracts", f"/v1/contracts/{contract['id']}/activate")
        if r.status_code == 200:
            return dict(r.json())
        got = ok(await p.call("GET", "contracts", f"/v1/contracts/{contract['id']}"))
        return dict(got) if got["status"] == "active" else None

    return dict(await eventually(activated, "the activation"))


async def _all(p: R1Platform, service: str, path: str, **params: str) -> list[dict[str, Any]]:
    async def get() -> list[dict[str, Any]] | None:
        items: list[dict[str, Any]] = []
        cursor: dict[str, str] = {}
        while True:  # lists answer pages: every page, cursor after cursor
            try:
                r = await p.call("GET", service, path, params=params | cursor)
            except httpx.TransportError:  # a service restarting: ask again
                return None
            if r.status_code != 200:
                return None
            body = r.json()
            if isinstance(body, list):
                return list(body)
            items += body["items"]
            if body["next_cursor"] is None:
                return items
            cursor = {"cursor": body["next_cursor"]}

    return list(await eventually(get, f"{service} {path}", 60))


async def _chaos(p: R1Platform, order: list[tuple[str, int]], pause: float) -> list[str]:
    """Each process in ``order`` is kill -9ed in turn (and started again), then NATS and
    PostgreSQL are restarted; returns what was done, in order."""
    done = []
    for service, replica in order:
        await asyncio.sleep(pause)
        await p.kill(service, replica)
        done.append(f"kill -9 {service}#{replica + 1}")
    await asyncio.sleep(pause)
    await p.restart_nats()
    done.append("NATS restarted")
    await asyncio.sleep(pause)
    await p.restart_postgres()
    done.append("PostgreSQL restarted")
    return done


async def _graph(p: R1Platform) -> dict[str, Any]:
    body: dict[str, Any] = (await p.http.get(f"{p.graph_url}/_sandbox/state")).json()
    tenant = body["tenants"].get(TENANT, {"users": [], "deleted": []})
    return {**tenant, "oplog": body["oplog"], "body": body}


@pytest.mark.parametrize("replicas", [{}, {"licence": 2, "billing": 2}], ids=["one", "two"])
async def test_every_effect_once_through_kills_and_restarts(replicas: dict[str, int]) -> None:
    today = datetime.now(REUNION)
    year = today.year
    async with r1_platform(replicas, datetime(year, 6, 15, 10, 0, tzinfo=REUNION)) as p:
        order = [
            (s, r)
            for s in ("licence", "billing", "video", "backup")
            for r in range(replicas.get(s, 1))
        ]

        # -- burst: practices activated while the downstream services are killed in turn ----
        chaos = asyncio.create_task(_chaos(p, order, pause=1.5))
        clients = []
        for i in range(PRACTICES):
            clients.append(await _practice(p, i))
        contracts = {}
        for c in clients:
            contracts[c["id"]] = await _activate(p, c, date(year, 3, 1))
        faults = await chaos
        # contracts-svc itself, its outbox relay still publishing what the burst wrote
        await p.kill("contracts")
        faults.append("kill -9 contracts#1")

        # -- every activation effect, once ------------------------------------------------------
        async def licensed() -> list[dict[str, Any]] | None:
            accounts = await _all(p, "licence", "/v1/accounts")
            active = [a for a in accounts if a["status"] == "active"]
            return accounts if len(active) == PRACTICES * USERS else None

        accounts = await eventually(licensed, "every account active")
        assert len(accounts) == PRACTICES * USERS

        async def invoiced() -> list[dict[str, Any]] | None:
            docs = await _all(p, "billing", "/v1/invoices")
            return docs if len(docs) >= PRACTICES else None

        invoices = await eventually(invoiced, "every activation invoiced")

        async def planned() -> list[dict[str, Any]] | None:
            plans = await _all(p, "backup", "/v1/plans")
            return plans if len(plans) >= PRACTICES else None

        await eventually(planned, "every backup plan")

        async def on_stripe() -> dict[str, dict[str, Any]] | None:
            page = (
                await p.http.get(
                    f"{p.stripe_url}/v1/invoices",
                    params={"limit": 100},
                    headers={"Authorization": "Bearer sk_test_r1"},
                )
            ).json()
            mine = {i["metadata"].get("prisme_document_id"): i for i in page["data"]}
            opened = {k: v for k, v in mine.items() if v["status"] == "open"}
            return mine if len(opened) >= PRACTICES else None

        stripe_invoices = await eventually(on_stripe, "every invoice on Stripe")

        # -- cessations (paid by card first: refunds), links, under a second round of faults ---
        ceasing = clients[:CEASING]
        by_contract = {inv["contract_id"]: inv for inv in invoices}
        for c in ceasing:
            si = stripe_invoices[by_contract[contracts[c["id"]]["id"]]["id"]]
            r = await p.http.post(
                f"{p.stripe_url}/v1/invoices/{si['id']}/pay",
                data={"payment_method": "pm_card_visa"},
                headers={"Authorization": "Bearer sk_test_r1"},
            )
            assert r.status_code == 200, r.text

        async def paid() -> bool:
            docs = await _all(p, "billing", "/v1/invoices")
            mine = {d["contract_id"]: d for d in docs}
            return all(mine[contracts[c["id"]]["id"]]["status"] == "paid" for c in ceasing)

        await eventually(paid, "billing to see the payments")
        links = []
        original = make_video(seconds=0.5)
        for c in clients[CEASING : CEASING + LINKED] + ceasing[:1]:
            video = ok(
                await p.call(
                    "POST",
                    "video",
                    "/v1/videos",
                    data={
                        "client_id": c["id"],
                        "contract_id": contracts[c["id"]]["id"],
                        "title": "Intervention à distance",
                    },
                    files={"file": ("intervention.mp4", original, "video/mp4")},
                ),
                201,
            )

            async def share(video_id: str = video["id"]) -> dict[str, Any] | None:
                r = await p.call("POST", "video", f"/v1/videos/{video_id}/links")
                return dict(r.json()) if r.status_code == 201 else None

            links.append(await eventually(share, "a shared link"))

        chaos = asyncio.create_task(_chaos(p, list(reversed(order)), pause=1.0))
        for c in ceasing:
            termination = ok(
                await p.call(
                    "POST",
                    "contracts",
                    f"/v1/contracts/{contracts[c['id']]['id']}/terminations",
                    data={"reason": "cessation", "effective_date": date(year, 6, 15).isoformat()},
                    files={
                        "document": (
                            "radiation.pdf",
                            make_pdf("Radiation du RCS"),
                            "application/pdf",
                        )
                    },
                ),
                201,
            )
            ok(
                await p.call(
                    "POST",
                    "contracts",
                    f"/v1/terminations/{termination['id']}/approve",
                    json={"note": "radiation du RCS vérifiée"},
                    headers=p.bob,
                )
            )
        faults += await chaos

        # -- the year-end, after prisme clock travel, with faults during its fan-out --------------
        await p.travel(datetime(year + 1, 1, 1, 0, 0, 5, tzinfo=REUNION))

        async def year_end() -> dict[str, Any] | None:
            r = await p.call("POST", "contracts", "/v1/year-end", json={"year": year})
            return dict(r.json()) if r.status_code == 200 else None

        run = await eventually(year_end, "POST /v1/year-end to run", 60)
        assert run["status"] == "done"
        assert run["ended"] == PRACTICES - CEASING
        for service, replica in order[::2]:
            await p.kill(service, replica)
            faults.append(f"kill -9 {service}#{replica + 1}")
        await p.restart_nats()
        faults.append("NATS restarted")

        # -- at the end: every effect exactly once ------------------------------------------------
        async def all_revoked() -> list[dict[str, Any]] | None:
            listed = await _all(p, "licence", "/v1/accounts")
            return listed if all(a["status"] == "revoked" for a in listed) else None

        accounts = await eventually(all_revoked, "every account revoked", 240)
        assert len(accounts) == PRACTICES * USERS
        assert len({a["upn"] for a in accounts}) == PRACTICES * USERS
        graph = await _graph(p)
        assert graph["users"] == []  # no live user left
        deleted = Counter(u["userPrincipalName"] for u in graph["deleted"])
        assert deleted == Counter({a["upn"]: 1 for a in accounts})
        for a in accounts:
            ops = [e["op"] for e in graph["oplog"] if e["upn"] == a["upn"]]
            assert ops.count("create") == 1, ops
            assert ops.count("assign_license") == 1, ops
            assert ops.count("delete") == 1, ops
            assert ops[-1] == "delete", ops
            firsts = [ops.index(step) for step in REVOCATION]
            assert firsts == sorted(firsts), ops
        skus = {s["skuPartNumber"]: s for s in graph["skus"]["value"]}
        assert skus["O365_BUSINESS"]["consumedUnits"] == 0  # every seat given back

        async def events_settled() -> bool:
            prov = await p.subject_count("LICENCES", "licence.provisioned")
            rev = await p.subject_count("LICENCES", "licence.revoked")
            return prov == rev == PRACTICES * USERS

        await eventually(events_settled, "one licence.provisioned and one licence.revoked each")

        invoices = await _all(p, "billing", "/v1/invoices")
        assert len(invoices) == PRACTICES
        assert Counter(i["contract_id"] for i in invoices) == Counter(
            {k["id"]: 1 for k in contracts.values()}
        )
        numbers = sorted(i["number"] for i in invoices)
        assert numbers == [f"F{year}-{n:06d}" for n in range(1, PRACTICES + 1)]  # B6 gap-free

        async def credited() -> list[dict[str, Any]] | None:
            notes = await _all(p, "billing", "/v1/credit-notes")
            return notes if len(notes) >= CEASING else None

        notes = await eventually(credited, "the cessations' credit notes")
        assert len(notes) == CEASING
        assert sorted(n["number"] for n in notes) == [
            f"A{year}-{n:06d}" for n in range(1, CEASING + 1)
        ]

        async def refunded() -> list[dict[str, Any]] | None:
            got = (
                await p.http.get(
                    f"{p.stripe_url}/v1/refunds", headers={"Authorization": "Bearer sk_test_r1"}
                )
            ).json()["data"]
            return list(got) if len(got) >= CEASING else None

        refunds = await eventually(refunded, "the refunds on Stripe")
        assert len(refunds) == CEASING
        page = (
            await p.http.get(
                f"{p.stripe_url}/v1/invoices",
                params={"limit": 100},
                headers={"Authorization": "Bearer sk_test_r1"},
            )
        ).json()["data"]
        assert Counter(i["metadata"].get("prisme_document_id") for i in page) == Counter(
            {i["id"]: 1 for i in invoices}
        )

        async def links_revoked() -> list[dict[str, Any]] | None:
            listed = await _all(p, "video", "/v1/links")
            return listed if all(x["status"] == "revoked" for x in listed) else None

        listed_links = await eventually(links_revoked, "every link revoked")
        assert sorted(x["id"] for x in listed_links) == sorted(x["id"] for x in links)

        async def plans_ended() -> list[dict[str, Any]] | None:
            plans = await _all(p, "backup", "/v1/plans")
            return plans if all(x["status"] in ("ended", "purged") for x in plans) else None

        plans = await eventually(plans_ended, "every backup plan ended")
        assert Counter(x["client_id"] for x in plans) == Counter({c["id"]: 1 for c in clients})

        ended = await _all(p, "contracts", "/v1/contracts", status="ended")
        assert Counter(k["client_id"] for k in ended) == Counter({c["id"]: 1 for c in clients})
        for name, replicas_of in p.procs.items():
            for replica in range(len(replicas_of)):
                r = await p.call("GET", name, "/v1/jobs", replica=replica, params={"state": "dead"})
                if r.status_code == 404:  # a service without job kinds
                    continue
                assert ok(r)["items"] == [], (name, r.text)
        assert await p.dead_letters() == dict.fromkeys(p.procs, 0)
        assert len(faults) >= 2 * len(order) + 4, faults
