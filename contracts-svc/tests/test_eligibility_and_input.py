"""Eligibility through the API, each C3 criterion failing on its own, and bad input refused
with a problem response that changes nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from prisme_testing.plugin import collect_events
from prisme_testing.polling import eventually

if TYPE_CHECKING:
    from conftest import Svc


async def _break(svc: Svc, cid: str, criterion: str) -> None:
    if criterion == "single_network":
        r = await svc.alice.put(
            f"/v1/clients/{cid}/network",
            json={"lan_count": 2, "download_mbps": 1000, "upload_mbps": 600},
        )
    elif criterion == "internet_speed":
        r = await svc.alice.put(
            f"/v1/clients/{cid}/network",
            json={"lan_count": 1, "download_mbps": 1000, "upload_mbps": 599},
        )
    elif criterion == "asset_supplier":
        r = await svc.alice.post(
            f"/v1/clients/{cid}/assets",
            json={
                "name": "NAS",
                "function": "stockage",
                "kind": "peripheral",
                "form": "physical",
                "os": "DSM",
                "supplied_by": "partner",
                "partner": "Medisoft",
            },
        )
    elif criterion == "windows_os":
        r = await svc.alice.post(
            f"/v1/clients/{cid}/assets",
            json={
                "name": "MAC",
                "function": "poste",
                "kind": "workstation",
                "form": "physical",
                "os": "macOS 14",
                "supplied_by": "provider",
            },
        )
    else:
        raise AssertionError(criterion)
    assert r.status_code in (200, 201), r.text


async def test_each_criterion_fails_on_its_own_and_blocks_activation(svc: Svc) -> None:
    cases: dict[str, dict[str, Any]] = {}
    # postal code: a practice outside La Réunion
    outside = await svc.client(postal_code="75011")
    await svc.alice.put(
        f"/v1/clients/{outside['id']}/network",
        json={"lan_count": 1, "download_mbps": 1000, "upload_mbps": 600},
    )
    await svc.asset(outside["id"], name="PC1")
    cases["postal_code"] = outside
    for criterion in ("single_network", "internet_speed", "asset_supplier", "windows_os"):
        client = await svc.eligible_client()
        await _break(svc, client["id"], criterion)
        cases[criterion] = client

    for criterion, client in cases.items():
        r = await svc.alice.get(f"/v1/clients/{client['id']}/eligibility")
        body = r.json()
        assert body["eligible"] is False, criterion
        assert [f["criterion"] for f in body["failures"]] == [criterion]
        assert body["failures"][0]["detail"]
        contract = await svc.contract(client["id"])
        r = await svc.alice.post(f"/v1/contracts/{contract['id']}/activate")
        assert r.status_code == 422, criterion
        assert r.json()["type"].endswith("/not-eligible")
        assert [f["criterion"] for f in r.json()["failures"]] == [criterion]
        assert (await svc.alice.get(f"/v1/contracts/{contract['id']}")).json()["status"] == "draft"

    # listing the partner makes its equipment acceptable
    assert (await svc.alice.post("/v1/partners", json={"name": "Medisoft"})).status_code == 201
    assert [p["name"] for p in (await svc.alice.get("/v1/partners")).json()["items"]] == [
        "Medisoft"
    ]
    r = await svc.alice.get(f"/v1/clients/{cases['asset_supplier']['id']}/eligibility")
    assert r.json()["eligible"] is True
    assert await collect_events(svc.nats_url, "contract.>", 1, timeout=0.5) == []


async def test_offers_catalogue(svc: Svc) -> None:
    offers = {o["code"]: o for o in (await svc.alice.get("/v1/offers")).json()["items"]}
    assert set(offers) == {"prisme", "sav_sauvegarde"}
    prisme_only = {
        "preventive_maintenance",
        "gdpr_compliance",
        "microsoft_365",
        "cloud_backup",
        "reinforced_antivirus",
        "teletransmission_mailbox",
    }
    assert prisme_only <= set(offers["prisme"]["includes"])
    assert not prisme_only & set(offers["sav_sauvegarde"]["includes"])
    assert "video_recordings" in offers["prisme"]["includes"]
    assert "video_recordings" in offers["sav_sauvegarde"]["includes"]
    assert "backup" in offers["sav_sauvegarde"]["includes"]
    assert all(i["label"] and i["label"] != i["code"] for o in offers.values() for i in o["items"])


async def test_bad_input_is_a_problem_and_changes_nothing(svc: Svc) -> None:
    good: dict[str, Any] = {
        "name": "Cabinet",
        "siren": "732829320",
        "manager": {"name": "Dr", "email": "dr@cab.re", "phone": "0692 12 34 56"},
        "address": {"line1": "1 rue", "postal_code": "97400", "city": "Saint-Denis"},
    }
    bad_clients = [
        {**good, "siren": "732829321"},
        {**good, "siren": "12345"},
        {**good, "manager": {**good["manager"], "email": "not-an-email"}},
        {**good, "manager": {**good["manager"], "phone": "12"}},
        {**good, "address": {**good["address"], "postal_code": "974"}},
        {**good, "unexpected": 1},
        {k: v for k, v in good.items() if k != "siren"},
        {**good, "name": "Cabinet\u0000"},  # PostgreSQL text cannot hold NUL: refused, not a 500
    ]
    for body in bad_clients:
        r = await svc.alice.post("/v1/clients", json=body)
        assert r.status_code == 422, body
        assert r.headers["content-type"].startswith("application/problem+json")
    assert (await svc.alice.get("/v1/clients")).json() == {"items": [], "next_cursor": None}
    r = await svc.alice.post("/v1/clients", json={**good, "siren": "732 829 320"})
    assert r.status_code == 201
    assert r.json()["siren"] == "732829320"
    cid = r.json()["id"]

    year = svc.clock.today().year
    for body, status in [
        ({"client_id": cid, "offer": "gold", "start_date": f"{year}-02-01"}, 422),
        ({"client_id": cid, "offer": "prisme", "start_date": f"{year - 1}-02-01"}, 422),
        (
            {
                "client_id": "00000000-0000-0000-0000-000000000000",
                "offer": "prisme",
                "start_date": f"{year}-02-01",
            },
            422,
        ),
        ({"client_id": cid, "offer": "prisme", "start_date": "2026-02-30"}, 422),
    ]:
        r = await svc.alice.post("/v1/contracts", json=body)
        assert r.status_code == status, body
    assert (await svc.alice.get("/v1/contracts")).json()["items"] == []

    await svc.asset(cid, name="PC1")
    await svc.asset(cid, name="pc1", expect=409)  # names are unique within a practice
    await svc.asset(
        cid, name="PC2", partner="Medisoft", expect=422
    )  # partner only for supplied_by=partner
    await svc.asset(cid, name="PC3", kind="tablet", expect=422)
    assert [
        a["name"] for a in (await svc.alice.get(f"/v1/clients/{cid}/assets")).json()["items"]
    ] == ["PC1"]
    r = await svc.alice.post(
        f"/v1/clients/{cid}/users",
        json={"first_name": "A", "last_name": "B", "email": "a@b", "role": "secretary"},
    )
    assert r.status_code == 422
    r = await svc.alice.post(
        f"/v1/clients/{cid}/users",
        json={"first_name": "A", "last_name": "B", "email": "a@b.re", "role": "boss"},
    )
    assert r.status_code == 422
    assert (await svc.alice.get(f"/v1/clients/{cid}/users")).json()["items"] == []

    r = await svc.alice.delete(
        f"/v1/clients/{cid}/assets/{'0' * 8}-0000-0000-0000-{'0' * 12}", params={"note": "a\u0000"}
    )
    assert r.status_code == 422
    assert (await svc.alice.delete("/v1/partners/a%00b")).status_code == 404
    r = await svc.alice.post(
        "/v1/contracts",
        json={"client_id": cid, "offer": "prisme", "start_date": f"{year + 2}-01-01"},
    )
    assert r.status_code == 422

    # draft-only operations
    contract = await svc.contract(cid)
    assert (await svc.alice.post(f"/v1/contracts/{contract['id']}/renew")).status_code == 409
    r = await svc.alice.post(f"/v1/contracts/{contract['id']}/cancel")
    assert r.json()["status"] == "cancelled"
    assert (await svc.alice.post(f"/v1/contracts/{contract['id']}/activate")).status_code == 409
    assert (
        await svc.alice.get("/v1/contracts/00000000-0000-0000-0000-000000000000")
    ).status_code == 404
    r = await svc.alice.post("/v1/year-end", json={"year": year + 1})
    assert r.status_code == 409


async def test_routes_need_a_token_with_the_right_scope(svc: Svc, make_token: Any) -> None:
    assert (await svc.alice.get("/v1/offers", headers={"Authorization": ""})).status_code == 401
    reader = {"Authorization": f"Bearer {make_token(scopes=('contracts:read',), sub='op-reader')}"}
    assert (await svc.alice.get("/v1/offers", headers=reader)).status_code == 200
    r = await svc.alice.post("/v1/year-end", json={"year": 2020}, headers=reader)
    assert r.status_code == 403
    other = {"Authorization": f"Bearer {make_token(scopes=('billing:write',), sub='op-x')}"}
    assert (await svc.alice.get("/v1/contracts", headers=other)).status_code == 403


async def test_a_partner_asset_without_a_named_partner_is_not_eligible(svc: Svc) -> None:
    """C3 loophole: ``supplied_by=partner`` with no partner named used to pass."""
    client = await svc.eligible_client()
    await svc.alice.post("/v1/partners", json={"name": "Medisoft"})
    r = await svc.alice.post(
        f"/v1/clients/{client['id']}/assets",
        json={
            "name": "NAS2",
            "function": "stockage",
            "kind": "peripheral",
            "form": "physical",
            "os": "DSM",
            "supplied_by": "partner",
        },
    )
    assert r.status_code == 201, r.text
    body = (await svc.alice.get(f"/v1/clients/{client['id']}/eligibility")).json()
    assert body["eligible"] is False
    assert [f["criterion"] for f in body["failures"]] == ["asset_supplier"]
    assert "NAS2" in body["failures"][0]["detail"]


async def test_an_override_covers_one_criterion_and_hides_no_new_failure(svc: Svc) -> None:
    """C3 loophole: a whole-client override used to hide every later failure too."""
    client = await svc.eligible_client()
    cid = client["id"]
    await _break(svc, cid, "single_network")
    # A criterion that passes needs no override; an unknown criterion is refused.
    r = await svc.alice.post(
        f"/v1/clients/{cid}/eligibility/override",
        json={"criterion": "windows_os", "reason": "pour voir"},
    )
    assert r.status_code == 409
    r = await svc.alice.post(
        f"/v1/clients/{cid}/eligibility/override",
        json={"criterion": "everything", "reason": "pour voir"},
    )
    assert r.status_code == 422
    r = await svc.alice.post(
        f"/v1/clients/{cid}/eligibility/override",
        json={"criterion": "single_network", "reason": "deux VLAN d'un même réseau"},
    )
    assert r.status_code == 201, r.text
    contract = await svc.contract(cid)
    assert (await svc.alice.post(f"/v1/contracts/{contract['id']}/activate")).status_code == 200

    # Later the speeds drop: that failure is not hidden by the old override (C4).
    r = await svc.alice.put(
        f"/v1/clients/{cid}/network",
        json={"lan_count": 2, "download_mbps": 500, "upload_mbps": 600},
    )
    assert r.status_code == 200, r.text
    body = (await svc.alice.get(f"/v1/clients/{cid}/eligibility")).json()
    assert body["eligible"] is False
    assert {f["criterion"] for f in body["failures"]} == {"single_network", "internet_speed"}
    current = (await svc.alice.get(f"/v1/contracts/{contract['id']}")).json()
    assert (current["status"], current["non_conforming"]) == ("active", True)


async def test_an_override_expires_on_the_clock(svc: Svc) -> None:
    client = await svc.eligible_client()
    cid = client["id"]
    await _break(svc, cid, "single_network")
    now = svc.clock.now()
    r = await svc.alice.post(
        f"/v1/clients/{cid}/eligibility/override",
        json={
            "criterion": "single_network",
            "reason": "migration du second réseau prévue",
            "expires_at": (now - timedelta(minutes=1)).isoformat(),
        },
    )
    assert r.status_code == 422  # already past
    r = await svc.alice.post(
        f"/v1/clients/{cid}/eligibility/override",
        json={
            "criterion": "single_network",
            "reason": "migration du second réseau prévue",
            "expires_at": (now + timedelta(days=30)).isoformat(),
        },
    )
    assert r.status_code == 201, r.text
    contract = await svc.contract(cid)
    assert (await svc.alice.post(f"/v1/contracts/{contract['id']}/activate")).status_code == 200
    svc.clock.travel_to(now + timedelta(days=31))

    async def flagged() -> bool:
        body = (await svc.alice.get(f"/v1/contracts/{contract['id']}")).json()
        return bool(body["non_conforming"])

    await eventually(flagged, timeout=20, what="the lapsed override to flag the contract")
    body = (await svc.alice.get(f"/v1/clients/{cid}/eligibility")).json()
    assert (body["eligible"], body["overrides"]) == (False, [])
    audit = await svc.audit(client_id=cid)
    assert ("eligibility.override_expired", "system:override-expiry") in {
        (a["action"], a["actor"]) for a in audit
    }
