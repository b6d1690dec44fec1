"""C8: a practice's identity can be corrected, audited with before and after; a postal code
outside La Réunion makes the active contract non-conforming (C4) without ending it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prisme_events import ClientCorrected, ContractEligibilityChanged
from prisme_testing.plugin import collect_events

if TYPE_CHECKING:
    from conftest import Svc


async def test_moving_to_paris_flags_the_contract_without_ending_it(svc: Svc) -> None:
    client, contract = await svc.active_contract()
    cid = client["id"]
    r = await svc.alice.patch(
        f"/v1/clients/{cid}",
        json={"address": {"line1": "12 rue de Rivoli", "postal_code": "75004", "city": "Paris"}},
    )
    assert r.status_code == 200, r.text
    assert r.json()["address"] == {
        "line1": "12 rue de Rivoli",
        "postal_code": "75004",
        "city": "Paris",
    }
    current = (await svc.alice.get(f"/v1/contracts/{contract['id']}")).json()
    assert (current["status"], current["non_conforming"]) == ("active", True)

    events = await collect_events(svc.nats_url, "contract.eligibility_changed", 10_000, 2.0)
    (flag,) = [
        e
        for e in events
        if isinstance(e, ContractEligibilityChanged) and str(e.contract_id) == contract["id"]
    ]
    assert [f.criterion for f in flag.failures] == ["postal_code"]
    corrected = [
        e
        for e in await collect_events(svc.nats_url, "client.corrected", 10_000, 2.0)
        if isinstance(e, ClientCorrected) and str(e.client.client_id) == cid
    ]
    assert [(e.version, e.changed, e.client.address.postal_code) for e in corrected] == [
        (1, ["address.city", "address.line1", "address.postal_code"], "75004")
    ]

    audit = await svc.audit(target=cid)
    (entry,) = [a for a in audit if a["action"] == "client.corrected"]
    assert entry["actor"] == "op-alice"
    assert entry["before"] == {
        "line1": client["address"]["line1"],
        "postal_code": client["address"]["postal_code"],
        "city": client["address"]["city"],
    }
    assert entry["after"]["postal_code"] == "75004"


async def test_bad_corrections_are_refused_and_change_nothing(svc: Svc) -> None:
    client = await svc.client()
    cid = client["id"]
    for body, field in (
        ({"siren": "732829321"}, "siren"),  # Luhn key wrong
        ({"manager": {"email": "pas-une-adresse"}}, "manager.email"),
        ({"address": {"postal_code": "9740"}}, "address.postal_code"),
    ):
        r = await svc.alice.patch(f"/v1/clients/{cid}", json=body)
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert [e["field"] for e in r.json()["errors"]] == [field]
    assert (await svc.alice.patch(f"/v1/clients/{cid}", json={"colour": "bleu"})).status_code == 422
    assert (await svc.alice.get(f"/v1/clients/{cid}")).json() == client
    # A correction with the same values changes nothing and writes no audit row.
    r = await svc.alice.patch(f"/v1/clients/{cid}", json={"name": client["name"]})
    assert r.status_code == 200
    audit = await svc.audit(target=cid)
    assert [a["action"] for a in audit] == ["client.created"]


async def test_the_siren_and_manager_can_be_corrected(svc: Svc) -> None:
    client = await svc.client()
    r = await svc.alice.patch(
        f"/v1/clients/{client['id']}",
        json={"siren": "732 829 320", "manager": {"name": "Dr Marie Payet"}},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["siren"] == "732829320"
    assert body["manager"]["name"] == "Dr Marie Payet"
    assert body["manager"]["email"] == client["manager"]["email"]
