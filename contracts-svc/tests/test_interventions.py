"""Interventions (C7): recorded through the API, published with their billable items (B9)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest
from prisme_contracts.domain import REUNION
from prisme_events import InterventionRecorded
from prisme_testing.plugin import collect_events

if TYPE_CHECKING:
    from conftest import Svc


async def _published(svc: Svc, intervention_id: str) -> list[InterventionRecorded]:
    events = await collect_events(svc.nats_url, "intervention.recorded", 10_000, timeout=2.0)
    return [
        e
        for e in events
        if isinstance(e, InterventionRecorded) and str(e.intervention_id) == intervention_id
    ]


def _at(svc: Svc, days_ago: int = 1) -> str:
    return (svc.clock.now() - timedelta(days=days_ago)).astimezone(REUNION).isoformat()


async def test_an_on_site_intervention_publishes_its_billable_items(svc: Svc) -> None:
    client, contract = await svc.active_contract()
    body = {
        "technician": "Judith Hoarau",
        "started_at": _at(svc),
        "duration_minutes": 150,
        "mode": "on_site",
        "zone": "Sud",
        "summary": "Installation de la télétransmission (sur demande)",
        "billable": [
            {"kind": "travel", "quantity": "1", "price_code": "deplacement_sud"},
            {"kind": "work", "quantity": "2", "price_code": "heure_hors_contrat"},
        ],
    }
    r = await svc.alice.post(f"/v1/clients/{client['id']}/interventions", json=body)
    assert r.status_code == 201, r.text
    got = r.json()
    assert (got["kind"], got["mode"], got["zone"], got["contract_id"]) == (
        "service",
        "on_site",
        "sud",
        contract["id"],
    )
    assert got["recorded_by"] == "op-alice"
    (event,) = await _published(svc, got["id"])
    assert str(event.client_id) == client["id"]
    assert str(event.contract_id) == contract["id"]
    assert [(b.kind, b.price_code, b.quantity, b.zone) for b in event.billable] == [
        ("travel", "deplacement_sud", Decimal(1), "sud"),
        ("work", "heure_hors_contrat", Decimal(2), None),
    ]
    # The event carries what billing needs and nothing more: no free text, no technician.
    assert set(event.model_dump()).isdisjoint({"summary", "technician", "video_id"})

    listed = (await svc.alice.get("/v1/interventions", params={"client_id": client["id"]})).json()
    assert [i["id"] for i in listed["items"]] == [got["id"]]
    assert listed["items"][0]["billable"][1] == {
        "kind": "work",
        "quantity": "2",
        "price_code": "heure_hors_contrat",
    }


async def test_a_remote_intervention_without_billable_item_bills_nothing(svc: Svc) -> None:
    client, _ = await svc.active_contract()
    r = await svc.alice.post(
        f"/v1/clients/{client['id']}/interventions",
        json={
            "technician": "Judith Hoarau",
            "started_at": _at(svc),
            "duration_minutes": 30,
            "mode": "remote",
            "summary": "Mise à jour de l'antivirus à distance",
        },
    )
    assert r.status_code == 201, r.text
    (event,) = await _published(svc, r.json()["id"])
    assert event.mode == "remote"
    assert event.billable == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"mode": "remote"}, "billable"),  # travel is for on-site visits only
        ({"zone": None}, "zone"),  # travel names its zone
        ({"zone": "Paris"}, "zone"),
        ({"started_at": "FUTURE"}, "started_at"),
        (
            {"billable": [{"kind": "travel", "quantity": "1.5", "price_code": "deplacement_sud"}]},
            "billable[0].quantity",
        ),
        (
            {"billable": [{"kind": "work", "quantity": "1", "price_code": "Heure Sup"}]},
            "billable[0].price_code",
        ),
    ],
)
async def test_bad_interventions_are_refused_and_change_nothing(
    svc: Svc, change: dict[str, Any], field: str
) -> None:
    client, _ = await svc.active_contract()
    body: dict[str, Any] = {
        "technician": "Judith Hoarau",
        "started_at": _at(svc),
        "duration_minutes": 60,
        "mode": "on_site",
        "zone": "sud",
        "summary": "Remplacement d'un écran",
        "billable": [{"kind": "travel", "quantity": "1", "price_code": "deplacement_sud"}],
    }
    body.update(change)
    if body["started_at"] == "FUTURE":
        body["started_at"] = (svc.clock.now() + timedelta(hours=2)).isoformat()
    r = await svc.alice.post(f"/v1/clients/{client['id']}/interventions", json=body)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert field in {e["field"] for e in r.json()["errors"]}
    listed = (await svc.alice.get("/v1/interventions", params={"client_id": client["id"]})).json()
    assert listed["items"] == []


async def test_the_list_pages_newest_first_and_filters_by_date(svc: Svc) -> None:
    client, _ = await svc.active_contract()
    ids = []
    for days_ago in (5, 4, 3, 2, 1):
        r = await svc.alice.post(
            f"/v1/clients/{client['id']}/interventions",
            json={
                "technician": "Judith Hoarau",
                "started_at": _at(svc, days_ago),
                "duration_minutes": 15,
                "mode": "remote",
                "summary": f"Contrôle J-{days_ago}",
            },
        )
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"client_id": client["id"], "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await svc.alice.get("/v1/interventions", params=params)).json()
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))
    since = (svc.clock.now() - timedelta(days=2, hours=12)).isoformat()
    recent = (
        await svc.alice.get("/v1/interventions", params={"client_id": client["id"], "since": since})
    ).json()
    assert [i["id"] for i in recent["items"]] == [ids[4], ids[3]]
    bad = await svc.alice.get("/v1/interventions", params={"cursor": "%%%"})
    assert bad.status_code == 422
    assert bad.json()["type"].endswith("invalid-cursor")
    # the list contract of every service: 200 a page at most
    assert (await svc.alice.get("/v1/interventions", params={"limit": 201})).status_code == 422
    naive = datetime(2026, 1, 1).isoformat()
    assert (await svc.alice.get("/v1/interventions", params={"since": naive})).status_code == 422


async def test_an_unknown_practice_is_404(svc: Svc) -> None:
    r = await svc.alice.post(
        "/v1/clients/5f0f7a8e-6c1f-4f5a-9d1e-9c0e1a2b3c4d/interventions",
        json={
            "technician": "Judith Hoarau",
            "started_at": _at(svc),
            "duration_minutes": 15,
            "mode": "remote",
            "summary": "Appel",
        },
    )
    assert r.status_code == 404
