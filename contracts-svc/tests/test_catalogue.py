"""C1 as data: offers, what they include and maintenance levels edited by an admin, audited;
a contract records its level; partners list the services they provide."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prisme_events import ContractActivated
from prisme_testing.plugin import collect_events

if TYPE_CHECKING:
    from conftest import Svc


async def test_an_admin_edits_offers_and_others_cannot(svc: Svc, make_token: Any) -> None:
    technician = {
        "Authorization": f"Bearer {make_token(sub='op-tech', scopes=['contracts:write', 'contracts:read'])}"
    }
    body = {
        "code": "prisme_essentiel",
        "label": "Infogérance PRISME essentielle",
        "includes": ["remote_support_unlimited", "microsoft_365"],
    }
    assert (await svc.alice.post("/v1/offers", json=body, headers=technician)).status_code == 403
    r = await svc.alice.post("/v1/offers", json=body)
    assert r.status_code == 201, r.text
    assert [i["label"] for i in r.json()["items"]][1].startswith("Suite bureautique Microsoft 365")
    assert (await svc.alice.post("/v1/offers", json=body)).status_code == 409
    bad = {**body, "code": "autre", "includes": ["cafe_offert"]}
    r = await svc.alice.post("/v1/offers", json=bad)
    assert r.status_code == 422
    assert "cafe_offert" in r.json()["detail"]
    r = await svc.alice.patch(
        "/v1/offers/prisme_essentiel", json={"includes": ["remote_support_unlimited"]}
    )
    assert r.status_code == 200, r.text
    assert r.json()["includes"] == ["remote_support_unlimited"]
    assert (await svc.alice.patch("/v1/offers/inconnue", json={"label": "x"})).status_code == 404
    offers = {o["code"] for o in (await svc.alice.get("/v1/offers")).json()["items"]}
    assert {"prisme", "sav_sauvegarde", "prisme_essentiel"} <= offers
    audit = await svc.audit(action="offer.updated")
    entries = [a for a in audit if a["action"] == "offer.updated"]
    assert entries
    assert entries[-1]["before"]["includes"] == ["remote_support_unlimited", "microsoft_365"]


async def test_a_contract_records_its_level_and_the_event_carries_it(svc: Svc) -> None:
    levels = (await svc.alice.get("/v1/levels")).json()["items"]
    assert [(lv["code"], lv["is_default"]) for lv in levels] == [("standard", True)]
    r = await svc.alice.post(
        "/v1/levels",
        json={
            "code": "premium",
            "label": "Niveau premium",
            "description": "Prise en charge étendue",
        },
    )
    assert r.status_code == 201, r.text
    client = await svc.eligible_client()
    r = await svc.alice.post(
        "/v1/contracts",
        json={
            "client_id": client["id"],
            "offer": "prisme",
            "level": "premium",
            "start_date": f"{svc.clock.today().year}-03-15",
        },
    )
    assert r.status_code == 201, r.text
    contract = r.json()
    assert contract["level"] == "premium"
    r = await svc.alice.post(f"/v1/contracts/{contract['id']}/activate")
    assert r.status_code == 200, r.text
    events = await collect_events(svc.nats_url, "contract.activated", 10_000, 2.0)
    (mine,) = [
        e
        for e in events
        if isinstance(e, ContractActivated) and str(e.contract_id) == contract["id"]
    ]
    assert mine.level == "premium"
    renewal = (await svc.alice.post(f"/v1/contracts/{contract['id']}/renew")).json()
    assert renewal["level"] == "premium"
    # An unknown level is refused; omitted, the default one applies.
    other = await svc.eligible_client()
    r = await svc.alice.post(
        "/v1/contracts",
        json={
            "client_id": other["id"],
            "offer": "prisme",
            "level": "or",
            "start_date": f"{svc.clock.today().year}-03-15",
        },
    )
    assert r.status_code == 422
    assert (await svc.contract(other["id"]))["level"] == "standard"
    # The default moves to another level, never to none.
    r = await svc.alice.patch("/v1/levels/standard", json={"is_default": False})
    assert r.status_code == 409
    r = await svc.alice.patch("/v1/levels/premium", json={"is_default": True})
    assert r.status_code == 200
    assert {
        lv["code"]: lv["is_default"] for lv in (await svc.alice.get("/v1/levels")).json()["items"]
    } == {
        "standard": False,
        "premium": True,
    }


async def test_partners_list_the_services_they_provide(svc: Svc) -> None:
    r = await svc.alice.post(
        "/v1/partners", json={"name": "Medisoft", "services": ["logiciel métier", "imagerie"]}
    )
    assert r.status_code == 201, r.text
    assert r.json()["services"] == ["logiciel métier", "imagerie"]
    r = await svc.alice.put("/v1/partners/Medisoft/services", json={"services": ["monétique"]})
    assert r.status_code == 200, r.text
    listed = (await svc.alice.get("/v1/partners")).json()["items"]
    assert [(p["name"], p["services"]) for p in listed] == [("Medisoft", ["monétique"])]
    assert (
        await svc.alice.put("/v1/partners/Inconnu/services", json={"services": []})
    ).status_code == 404
