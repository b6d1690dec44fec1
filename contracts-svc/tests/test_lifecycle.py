"""The whole contract lifecycle through the HTTP API, with the events checked on the bus:
create → eligibility → activate → amend → non-conforming → cessation → ended."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from prisme_contracts import domain
from prisme_events import (
    ContractActivated,
    ContractAmended,
    ContractEligibilityChanged,
    ContractEnded,
)
from prisme_testing.plugin import collect_events

if TYPE_CHECKING:
    from conftest import Svc

PDF = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n%%EOF\n"


async def _events(svc: Svc, subject: str, count: int, timeout: float = 10.0) -> list[Any]:
    return await collect_events(svc.nats_url, subject, count, timeout)


async def test_create_activate_amend_cease(svc: Svc, make_token: Callable[..., str]) -> None:
    client = await svc.client()
    cid = client["id"]
    # Nothing declared yet: not eligible, each failure explained.
    r = await svc.alice.get(f"/v1/clients/{cid}/eligibility")
    assert r.status_code == 200
    assert r.json()["eligible"] is False
    assert {f["criterion"] for f in r.json()["failures"]} == {"single_network", "internet_speed"}

    contract = await svc.contract(cid, start=date(svc.clock.today().year, 3, 15))
    assert contract["status"] == "draft"
    assert contract["version"] == 1
    assert contract["end_date"] == f"{contract['year']}-12-31"
    r = await svc.alice.post(f"/v1/contracts/{contract['id']}/activate")
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert {f["criterion"] for f in r.json()["failures"]} == {"single_network", "internet_speed"}
    assert (await svc.alice.get(f"/v1/contracts/{contract['id']}")).json()["status"] == "draft"

    await svc.alice.put(
        f"/v1/clients/{cid}/network",
        json={"lan_count": 1, "download_mbps": 2000, "upload_mbps": 700},
    )
    await svc.asset(
        cid, name="SRV", kind="server", form="virtual", os="Windows Server 2022", function="serveur"
    )
    for i in range(6):
        await svc.asset(cid, name=f"PC{i}")
    await svc.asset(cid, name="IMP", kind="peripheral", os="firmware", function="imprimante")
    u1 = await svc.user(cid, first_name="Jean", last_name="Grondin", role="practitioner")
    u2 = await svc.user(cid, first_name="Lucie", last_name="Técher", role="assistant")
    assert (await svc.alice.get(f"/v1/clients/{cid}/eligibility")).json() == {
        "eligible": True,
        "criteria_met": True,
        "failures": [],
        "overridden": False,
        "overrides": [],
    }

    r = await svc.alice.post(f"/v1/contracts/{contract['id']}/activate")
    assert r.status_code == 200, r.text
    active = r.json()
    assert active["status"] == "active"
    assert active["version"] == 2
    # one active contract per client and year
    r = await svc.alice.post(
        "/v1/contracts",
        json={"client_id": cid, "offer": "sav_sauvegarde", "start_date": contract["start_date"]},
    )
    assert r.status_code == 409

    [activated] = await _events(svc, "contract.activated", 1)
    assert isinstance(activated, ContractActivated)
    assert activated.contract_id == activated.contract_id
    assert str(activated.contract_id) == contract["id"]
    assert activated.version == 2
    assert activated.offer == "prisme"
    assert {"microsoft_365", "cloud_backup", "video_recordings", "teletransmission_mailbox"} <= set(
        activated.includes
    )
    assert activated.start_date == date.fromisoformat(contract["start_date"])
    assert activated.end_date == date(contract["year"], 12, 31)
    assert activated.ends_at == domain.ends_at(contract["year"])
    assert activated.ends_at.utcoffset() == timedelta(hours=4)
    assert activated.postes == 7  # a virtual server counts as a poste
    assert activated.peripherals == 1
    assert {str(u.user_id) for u in activated.users} == {u1["id"], u2["id"]}
    assert activated.client.siren == client["siren"]
    assert activated.client.address.postal_code == "97490"

    # C5: adding a poste is an intervention + an amendment with the new number of postes
    eff = date(contract["year"], 6, 1)
    added = await svc.asset(
        cid,
        name="PC-NEW",
        note="Installation d'un poste en salle 2",
        effective_date=eff.isoformat(),
    )
    assert added["amendment"]["intervention_id"] is not None
    assert len(added["amendment"]["amendments"]) == 1
    r = await svc.alice.delete(
        f"/v1/clients/{cid}/users/{u2['id']}", params={"effective_date": eff.isoformat()}
    )
    assert r.status_code == 200, r.text
    amended = await _events(svc, "contract.amended", 2)
    assert [type(e) for e in amended] == [ContractAmended, ContractAmended]
    a1, a2 = amended
    assert (a1.version, a2.version) == (3, 4)
    assert (a1.postes_before, a1.postes, a1.effective_date) == (7, 8, eff)
    assert a1.changes[0].target == "asset"
    assert a1.changes[0].action == "added"
    assert a1.changes[0].asset is not None
    assert a1.changes[0].asset.name == "PC-NEW"
    assert a2.users_removed == [a2.changes[0].id]
    assert str(a2.users_removed[0]) == u2["id"]
    assert a2.postes == 8
    r = await svc.alice.get(f"/v1/contracts/{contract['id']}/amendments")
    assert [a["technician"] for a in r.json()["items"]] == ["op-alice", "op-alice"]
    assert r.json()["items"][0]["description"] == "Installation d'un poste en salle 2"
    assert r.json()["next_cursor"] is None

    # a date outside the contract year is refused and changes nothing
    r = await svc.alice.post(
        f"/v1/clients/{cid}/assets",
        json={
            "name": "PC-LATE",
            "function": "x",
            "kind": "workstation",
            "form": "physical",
            "os": "Windows 11",
            "supplied_by": "provider",
            "effective_date": f"{contract['year'] + 1}-01-02",
        },
    )
    assert r.status_code == 422
    assert "PC-LATE" not in {
        a["name"] for a in (await svc.alice.get(f"/v1/clients/{cid}/assets")).json()["items"]
    }

    # C4: a third-party asset makes the practice non-conforming; the contract stays active
    await svc.asset(cid, name="NAS", kind="peripheral", os="DSM", supplied_by="third_party")
    [changed] = await _events(svc, "contract.eligibility_changed", 1)
    assert isinstance(changed, ContractEligibilityChanged)
    assert changed.non_conforming is True
    assert changed.eligible is False
    assert [f.criterion for f in changed.failures] == ["asset_supplier"]
    current = (await svc.alice.get(f"/v1/contracts/{contract['id']}")).json()
    assert current["status"] == "active"
    assert current["non_conforming"] is True
    flagged = (await svc.alice.get("/v1/contracts", params={"non_conforming": "true"})).json()[
        "items"
    ]
    assert [k["id"] for k in flagged] == [contract["id"]]
    assert changed.version == current["version"]

    # C6: cessation, proven by a document, approved by another operator
    today = svc.clock.today()
    r = await svc.alice.post(
        f"/v1/contracts/{contract['id']}/terminations",
        data={"reason": "cessation", "effective_date": today.isoformat()},
        files={"document": ("radiation.pdf", PDF, "application/pdf")},
    )
    assert r.status_code == 201, r.text
    termination = r.json()
    assert termination["status"] == "pending"
    assert termination["document_type"] == "application/pdf"
    r = await svc.alice.post(
        f"/v1/terminations/{termination['id']}/approve", json={"note": "radiation vue"}
    )
    assert r.status_code == 403
    assert r.json()["type"].endswith("/problems/self-approval")  # O2, by identity
    # writing is not approving (O1): another operator with contracts:write only is refused
    writer = {"Authorization": f"Bearer {make_token(scopes=('contracts:write',), sub='op-tech')}"}
    r = await svc.alice.post(
        f"/v1/terminations/{termination['id']}/approve", json={"note": "vu"}, headers=writer
    )
    assert r.status_code == 403
    assert r.json()["required_scopes"] == ["contracts:approve"]
    assert (await svc.alice.get(f"/v1/contracts/{contract['id']}")).json()["status"] == "active"
    r = await svc.as_bob(
        "POST", f"/v1/terminations/{termination['id']}/approve", json={"note": "extrait Kbis"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["approved_by"] == "op-bob"
    ended = (await svc.alice.get(f"/v1/contracts/{contract['id']}")).json()
    assert ended["status"] == "ended"
    assert ended["end_reason"] == "cessation"
    assert ended["ended_on"] == today.isoformat()

    [end] = await _events(svc, "contract.ended", 1)
    assert isinstance(end, ContractEnded)
    assert end.reason == "cessation"
    assert end.effective_date == today
    assert end.version == ended["version"]
    assert end.postes == 8
    assert end.renewal_contract_id is None

    # ending an ended contract is refused
    r = await svc.as_bob(
        "POST", f"/v1/terminations/{termination['id']}/approve", json={"note": "encore"}
    )
    assert r.status_code == 409
    r = await svc.alice.post(
        f"/v1/contracts/{contract['id']}/terminations",
        data={"reason": "cessation", "effective_date": today.isoformat()},
        files={"document": ("radiation.pdf", PDF, "application/pdf")},
    )
    assert r.status_code == 409
    r = await svc.alice.get(f"/v1/terminations/{termination['id']}/document")
    assert r.content == PDF
    assert r.headers["content-type"] == "application/pdf"

    # the versions on the bus are strictly increasing and match the contract
    everything = await _events(svc, "contract.>", 6)
    assert [(e.subject, e.version) for e in everything] == [
        ("contract.activated", 2),
        ("contract.amended", 3),
        ("contract.amended", 4),
        ("contract.amended", 5),  # the NAS is an inventory change too
        ("contract.eligibility_changed", 6),
        ("contract.ended", 7),
    ]

    # audit trail: who did what, with before/after
    audit = await svc.audit(target=contract["id"])
    actions = [(a["action"], a["actor"]) for a in audit]
    assert actions[0] == ("contract.created", "op-alice")
    assert ("contract.activated", "op-alice") in actions
    assert actions[-1] == ("contract.ended", "op-bob")
    assert audit[-1]["before"]["status"] == "active"
    assert audit[-1]["after"]["status"] == "ended"
    assert all(a["address"] == "127.0.0.1" for a in audit)


async def test_cessation_document_and_dates_are_checked(svc: Svc) -> None:
    _, contract = await svc.active_contract()
    url = f"/v1/contracts/{contract['id']}/terminations"
    today = svc.clock.today().isoformat()

    async def post(reason: str, eff: str, name: str, content: bytes) -> int:
        r = await svc.alice.post(
            url, data={"reason": reason, "effective_date": eff}, files={"document": (name, content)}
        )
        return r.status_code

    assert await post("cessation", today, "x.gif", b"GIF89a......") == 415
    assert await post("cessation", today, "x.pdf", b"") == 415
    assert await post("cessation", today, "x.pdf", b"%PDF-" + b"0" * (10 * 1024 * 1024)) == 413
    assert await post("convenance", today, "x.pdf", PDF) == 422
    next_year = date(svc.clock.today().year + 1, 1, 1).isoformat()
    assert await post("cessation", next_year, "x.pdf", PDF) == 422
    before_start = (date.fromisoformat(contract["start_date"]) - timedelta(days=1)).isoformat()
    assert await post("cessation", before_start, "x.pdf", PDF) == 422
    # nothing was recorded
    assert [a["action"] for a in await svc.audit(target=contract["id"])] == [
        "contract.created",
        "contract.activated",
    ]
    assert await post("cessation", today, "scan.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF") == 201
    assert (
        await post("cessation", today, "scan.png", b"\x89PNG\r\n\x1a\n....") == 409
    )  # one pending request


async def test_renewal_is_the_next_years_draft(svc: Svc) -> None:
    client, contract = await svc.active_contract()
    r = await svc.alice.post(f"/v1/contracts/{contract['id']}/renew")
    assert r.status_code == 201, r.text
    renewal = r.json()
    assert renewal["status"] == "draft"
    assert renewal["year"] == contract["year"] + 1
    assert renewal["start_date"] == f"{contract['year'] + 1}-01-01"
    assert renewal["renewal_of"] == contract["id"]
    assert renewal["offer"] == contract["offer"]
    r = await svc.alice.post(f"/v1/contracts/{contract['id']}/renew")
    assert r.status_code == 409
    assert r.json()["contract_id"] == renewal["id"]
    # a renewal activated ahead of time carries renewal_of, the same users and inventory
    r = await svc.alice.post(f"/v1/contracts/{renewal['id']}/activate")
    assert r.status_code == 200, r.text
    events = await collect_events(svc.nats_url, "contract.activated", 2)
    assert len(events) == 2
    first, second = events
    assert isinstance(second, ContractActivated)
    assert str(second.renewal_of) == contract["id"]
    assert {u.user_id for u in second.users} == {u.user_id for u in first.users}
    assert second.postes == first.postes
    listed = (
        await svc.alice.get("/v1/contracts", params={"client_id": client["id"], "status": "active"})
    ).json()["items"]
    assert {k["year"] for k in listed} == {contract["year"], contract["year"] + 1}
    # an inventory change applies to both active contracts: from today in this year's, from
    # 1 January in next year's
    added = await svc.asset(client["id"], name="PC-EXTRA")
    assert len(added["amendment"]["amendments"]) == 2
    amended = await collect_events(svc.nats_url, "contract.amended", 2)
    effective = {str(e.contract_id): e.effective_date for e in amended}  # type: ignore[attr-defined]
    assert effective == {
        contract["id"]: svc.clock.today(),
        renewal["id"]: date(contract["year"] + 1, 1, 1),
    }
    assert {(e.postes_before, e.postes) for e in amended} == {(3, 4)}  # type: ignore[attr-defined]


async def test_override_is_audited_and_allows_activation(svc: Svc) -> None:
    client = await svc.eligible_client()
    cid = client["id"]
    await svc.alice.put(
        f"/v1/clients/{cid}/network",
        json={"lan_count": 2, "download_mbps": 1000, "upload_mbps": 600},
    )
    contract = await svc.contract(cid)
    assert (await svc.alice.post(f"/v1/contracts/{contract['id']}/activate")).status_code == 422
    r = await svc.alice.post(
        f"/v1/clients/{cid}/eligibility/override",
        json={"criterion": "single_network", "reason": "deux VLAN d'un même réseau"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["eligible"] is True
    assert r.json()["criteria_met"] is False
    assert [(o["criterion"], o["created_by"]) for o in r.json()["overrides"]] == [
        ("single_network", "op-alice")
    ]
    assert (await svc.alice.post(f"/v1/contracts/{contract['id']}/activate")).status_code == 200
    # revoking it flags the active contract non-conforming (C4), never ends it
    r = await svc.as_bob(
        "DELETE", f"/v1/clients/{cid}/eligibility/override", params={"criterion": "single_network"}
    )
    assert r.status_code == 200
    [changed] = await collect_events(svc.nats_url, "contract.eligibility_changed", 1)
    assert isinstance(changed, ContractEligibilityChanged)
    assert changed.non_conforming is True
    assert [f.criterion for f in changed.failures] == ["single_network"]
    assert (await svc.alice.get(f"/v1/contracts/{contract['id']}")).json()["status"] == "active"
    audit = await svc.audit(client_id=cid)
    actions = {(a["action"], a["actor"]) for a in audit}
    assert ("eligibility.override_recorded", "op-alice") in actions
    assert ("eligibility.override_revoked", "op-bob") in actions
    # fixing the network restores conformity and says so on the bus
    await svc.alice.put(
        f"/v1/clients/{cid}/network",
        json={"lan_count": 1, "download_mbps": 1000, "upload_mbps": 600},
    )
    events = await collect_events(svc.nats_url, "contract.eligibility_changed", 2)
    assert events[-1].non_conforming is False  # type: ignore[attr-defined]


async def test_turn_of_year_in_reunion_time(svc: Svc) -> None:
    """Contracts created at 23:59:59 on 31 December (Reunion) still belong to that year."""
    year = svc.clock.today().year
    svc.clock.travel_to(datetime(year, 12, 31, 23, 59, 0, tzinfo=domain.REUNION))
    client = await svc.eligible_client()
    contract = await svc.contract(client["id"], start=date(year, 12, 31))
    assert contract["ends_at"] == f"{year}-12-31T23:59:59+04:00"
    r = await svc.alice.post(f"/v1/contracts/{contract['id']}/activate")
    assert r.status_code == 200, r.text
    client2 = await svc.eligible_client()
    late = await svc.contract(client2["id"], start=date(year, 12, 31))
    svc.clock.travel_to(datetime(year + 1, 1, 1, 0, 0, 1, tzinfo=domain.REUNION))
    r = await svc.alice.post(
        "/v1/contracts",
        json={"client_id": client2["id"], "offer": "prisme", "start_date": f"{year}-12-31"},
    )
    assert r.status_code == 422
    r = await svc.alice.post(f"/v1/contracts/{late['id']}/activate")
    assert r.status_code == 409  # that year is over in Indian/Reunion time
