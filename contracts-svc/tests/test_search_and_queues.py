"""What the dashboard's lists need: a practice found by name, SIREN, city or a user's e-mail;
practices by id; contracts by offer; the queue of cessation requests."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conftest import Svc

PDF = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n%%EOF\n"


async def _found(svc: Svc, **params: Any) -> list[str]:
    r = await svc.alice.get("/v1/clients", params=params)
    assert r.status_code == 200, r.text
    return [c["name"] for c in r.json()]


async def test_a_practice_is_found_by_name_siren_city_or_user_email(svc: Svc) -> None:
    lataniers = await svc.client(
        name="Cabinet des Lataniers",
        siren="552100554",
        address={"line1": "3 rue Hoarau", "postal_code": "97410", "city": "Saint-Pierre"},
    )
    await svc.client(
        name="Centre 100% Santé",
        siren="732829320",
        address={"line1": "1 rue de Paris", "postal_code": "97400", "city": "Saint-Denis"},
    )
    await svc.user(lataniers["id"], email="Marie.Grondin@lataniers.re")
    assert await _found(svc, q="latan") == ["Cabinet des Lataniers"]
    assert await _found(svc, q="552 100") == ["Cabinet des Lataniers"]
    assert await _found(svc, q="saint-pierre") == ["Cabinet des Lataniers"]
    assert await _found(svc, q="marie.grondin@") == ["Cabinet des Lataniers"]
    # LIKE wildcards are searched as text
    assert await _found(svc, q="100%") == ["Centre 100% Santé"]
    assert await _found(svc, q="_") == []
    assert await _found(svc, q="introuvable") == []
    assert len(await _found(svc, q="saint")) == 2
    assert await _found(svc, id=[lataniers["id"]]) == ["Cabinet des Lataniers"]
    assert len(await _found(svc)) == 2


async def test_contracts_by_offer_and_the_queue_of_cessations(svc: Svc) -> None:
    client, contract = await svc.active_contract()
    r = await svc.alice.get("/v1/contracts", params={"offer": "prisme"})
    assert [c["id"] for c in r.json()] == [contract["id"]]
    r = await svc.alice.get("/v1/contracts", params={"offer": "autre_offre"})
    assert r.json() == []
    assert (await svc.alice.get("/v1/terminations", params={"status": "pending"})).json() == []
    r = await svc.alice.post(
        f"/v1/contracts/{contract['id']}/terminations",
        data={"reason": "cessation", "effective_date": svc.clock.today().isoformat()},
        files={"document": ("radiation.pdf", PDF, "application/pdf")},
    )
    assert r.status_code == 201, r.text
    pending = (await svc.alice.get("/v1/terminations", params={"status": "pending"})).json()
    assert [(t["id"], t["requested_by"]) for t in pending] == [(r.json()["id"], "op-alice")]
    mine = await svc.alice.get("/v1/terminations", params={"client_id": client["id"]})
    assert [t["id"] for t in mine.json()] == [r.json()["id"]]
    assert (await svc.alice.get("/v1/terminations", params={"status": "approved"})).json() == []
