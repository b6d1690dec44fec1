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
    return [c["name"] for c in r.json()["items"]]


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
    assert [c["id"] for c in r.json()["items"]] == [contract["id"]]
    r = await svc.alice.get("/v1/contracts", params={"offer": "autre_offre"})
    assert r.json() == {"items": [], "next_cursor": None}
    assert (await svc.alice.get("/v1/terminations", params={"status": "pending"})).json()[
        "items"
    ] == []
    r = await svc.alice.post(
        f"/v1/contracts/{contract['id']}/terminations",
        data={"reason": "cessation", "effective_date": svc.clock.today().isoformat()},
        files={"document": ("radiation.pdf", PDF, "application/pdf")},
    )
    assert r.status_code == 201, r.text
    pending = (await svc.alice.get("/v1/terminations", params={"status": "pending"})).json()[
        "items"
    ]
    assert [(t["id"], t["requested_by"]) for t in pending] == [(r.json()["id"], "op-alice")]
    mine = await svc.alice.get("/v1/terminations", params={"client_id": client["id"]})
    assert [t["id"] for t in mine.json()["items"]] == [r.json()["id"]]
    assert (await svc.alice.get("/v1/terminations", params={"status": "approved"})).json()[
        "items"
    ] == []


async def _every_row(svc: Svc, path: str, *, key: str = "id", **params: Any) -> list[str]:
    """Every row's ``key`` of ``path``, a page of 2 at a time, following ``next_cursor``."""
    ids: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        asked = {**params, "limit": 2, **({"cursor": cursor} if cursor else {})}
        r = await svc.alice.get(path, params=asked)
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["items"]) <= 2
        ids += [row[key] for row in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            return ids
        assert pages < 20


async def test_every_list_pages_each_row_once_and_refuses_a_bad_cursor(svc: Svc) -> None:
    made = [await svc.active_contract() for _ in range(5)]
    requested = []
    for _, contract in made:
        r = await svc.alice.post(
            f"/v1/contracts/{contract['id']}/terminations",
            data={"reason": "cessation", "effective_date": svc.clock.today().isoformat()},
            files={"document": ("radiation.pdf", PDF, "application/pdf")},
        )
        assert r.status_code == 201, r.text
        requested.append(r.json()["id"])
    clients = [c["id"] for c, _ in made]
    contracts = [k["id"] for _, k in made]
    # oldest first, each row exactly once, over three pages of 2
    assert await _every_row(svc, "/v1/clients") == clients
    assert await _every_row(svc, "/v1/clients", q="cabinet") == clients
    assert await _every_row(svc, "/v1/clients", id=clients[1:4]) == clients[1:4]
    assert await _every_row(svc, "/v1/contracts") == contracts
    assert await _every_row(svc, "/v1/terminations") == requested
    assert await _every_row(svc, "/v1/terminations", status="pending") == requested
    # the default page is 50 rows, 200 at the most
    assert (await svc.alice.get("/v1/contracts", params={"limit": 201})).status_code == 422
    for path in ("/v1/clients", "/v1/contracts", "/v1/terminations"):
        r = await svc.alice.get(path, params={"cursor": "pas-un-curseur"})
        assert r.status_code == 422, (path, r.text)
        assert r.json()["type"].endswith("invalid-cursor")


async def test_the_lists_of_a_practice_a_contract_and_the_catalogue_page_too(svc: Svc) -> None:
    client, contract = await svc.active_contract()
    cid = client["id"]
    users = [(await svc.user(cid, first_name=f"P{i}"))["id"] for i in range(3)]
    assets = [(await svc.asset(cid, name=f"PC-{i}"))["id"] for i in range(3)]
    for i in range(3):
        r = await svc.alice.post(
            "/v1/offers",
            json={"code": f"offre_{i}", "label": "Offre", "includes": ["microsoft_365"]},
        )
        assert r.status_code == 201, r.text
        r = await svc.alice.post("/v1/levels", json={"code": f"niveau_{i}", "label": "Niveau"})
        assert r.status_code == 201, r.text
        r = await svc.alice.post("/v1/partners", json={"name": f"Partenaire | {3 - i}"})
        assert r.status_code == 201, r.text

    every_user = await _every_row(svc, f"/v1/clients/{cid}/users")
    assert every_user[-3:] == users
    assert len(set(every_user)) == len(every_user)
    every_asset = await _every_row(svc, f"/v1/clients/{cid}/assets")
    assert every_asset[-3:] == assets
    assert len(set(every_asset)) == len(every_asset)
    # each inventory change amended the active contract (C5), in the order it was made
    amendments = await _every_row(svc, f"/v1/contracts/{contract['id']}/amendments")
    assert len(amendments) == len(set(amendments)) == 6
    offers = await _every_row(svc, "/v1/offers", key="code")
    assert offers[-3:] == ["offre_0", "offre_1", "offre_2"]
    assert {"prisme", "sav_sauvegarde"} <= set(offers)
    assert await _every_row(svc, "/v1/levels", key="code") == [
        "standard",
        "niveau_0",
        "niveau_1",
        "niveau_2",
    ]
    # by name, a "|" inside one does not split the cursor
    assert await _every_row(svc, "/v1/partners", key="name") == [
        "Partenaire | 1",
        "Partenaire | 2",
        "Partenaire | 3",
    ]
    for path in (
        f"/v1/clients/{cid}/users",
        f"/v1/clients/{cid}/assets",
        f"/v1/contracts/{contract['id']}/amendments",
        "/v1/offers",
        "/v1/levels",
        "/v1/partners",
    ):
        r = await svc.alice.get(path, params={"cursor": "pas-un-curseur"})
        assert r.status_code == 422, (path, r.text)
        assert r.json()["type"].endswith("invalid-cursor")
