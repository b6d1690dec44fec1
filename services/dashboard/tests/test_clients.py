"""The clients of the services (prisme_dashboard.clients) against a real contracts-svc, and
the French formatting filters of the pages."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from prisme_contracts.app import build_app as build_contracts
from prisme_contracts.settings import ContractsSettings
from prisme_dashboard.clients import ContractsClient, ServiceProblem, ServiceUnavailable
from prisme_dashboard.issuer import Issuer
from prisme_dashboard.operators import Operator
from prisme_dashboard.web.render import euros, french_date, reunion_time
from prisme_testing.runner import start_service

TECH = Operator(
    id=uuid.uuid4(),
    email="claire@prisme.re",
    name="Claire Hoarau",
    roles=("technician",),
    status="active",
    must_change_password=False,
    totp_enabled=False,
    created_at=datetime(2026, 1, 5, tzinfo=UTC),
)
PRACTICE = {
    "name": "Cabinet des Lataniers",
    "siren": "732829320",
    "manager": {"name": "Dr Payet", "email": "payet@cabinet.re", "phone": "0262 12 34 56"},
    "address": {"line1": "3 rue de Paris", "postal_code": "75001", "city": "Paris"},
}


@pytest.fixture
async def contracts_url(
    base_settings: dict[str, Any], new_database: Callable[[], Awaitable[str]]
) -> AsyncIterator[str]:
    app = build_contracts(ContractsSettings(**base_settings, database_url=await new_database()))
    async with start_service(app) as client:
        yield str(client.base_url).rstrip("/")


async def test_calls_as_the_operator_and_keeps_the_problem(
    contracts_url: str, platform_keys: tuple[str, str]
) -> None:
    token = Issuer(platform_keys[0]).for_operator(TECH)
    async with httpx.AsyncClient() as http:
        contracts = ContractsClient(http, contracts_url, token)
        created = await contracts.create_client(PRACTICE)
        cid = uuid.UUID(created["id"])
        assert (await contracts.get_client(cid))["name"] == "Cabinet des Lataniers"
        # the audit trail names the operator the token was minted for
        trail = (await contracts.audit_trail({"client_id": str(cid)}))["items"]
        assert {(row["actor"], row["actor_name"]) for row in trail} == {
            (str(TECH.id), TECH.name)
        }, trail

        # a validation error names its field
        with pytest.raises(ServiceProblem) as refused:
            await contracts.put_network(cid, {"lan_count": -1, "download_mbps": 10})
        problem = refused.value
        assert problem.status == 422
        assert problem.code == "validation_error"
        fields = problem.field_errors()
        assert set(fields) == {"lan_count", "upload_mbps"}, fields
        # in French for the operator, beside each field and above the form
        assert fields["upload_mbps"] == ["Champ obligatoire."]
        assert fields["lan_count"] == ["Doit être au moins 0."], fields
        assert problem.general_errors() == [
            "2 champs sont à corriger : voyez le message à côté de chacun."
        ]

        # no network yet: None, not an error; eligibility lists every failure by criterion
        assert await contracts.network(cid) is None
        draft = await contracts.create_contract(
            client_id=cid, offer="prisme", start_date=date.today()
        )
        with pytest.raises(ServiceProblem) as not_eligible:
            await contracts.activate(uuid.UUID(draft["id"]))
        problem = not_eligible.value
        assert problem.code == "not-eligible", problem
        fields = problem.field_errors()
        assert {"postal_code", "single_network", "internet_speed"} <= set(fields), fields
        assert "75001" in fields["postal_code"][0]

        # a token without the scope is refused, as the operator
        reader = Issuer(platform_keys[0]).for_operator(
            Operator(**{**TECH.__dict__, "roles": ("accountant",)})
        )
        with pytest.raises(ServiceProblem) as forbidden:
            await ContractsClient(http, contracts_url, reader).create_client(PRACTICE)
        assert forbidden.value.status == 403


async def test_a_service_that_does_not_answer() -> None:
    async with httpx.AsyncClient() as http:
        dead = ContractsClient(http, "http://127.0.0.1:9", "token")
        with pytest.raises(ServiceUnavailable) as down:
            await dead.offers()
    assert down.value.status == 503
    assert "contrats" in down.value.message


def test_french_formats() -> None:
    assert french_date(date(2026, 12, 1)) == "1 déc. 2026"
    assert french_date("2026-03-15") == "15 mars 2026"
    # 22:30 UTC on 30 November is already 1 December in Réunion (UTC+4)
    assert french_date(datetime(2026, 11, 30, 22, 30, tzinfo=UTC)) == "1 déc. 2026"
    assert reunion_time("2026-11-30T22:30:00+00:00") == "1 déc. 2026 à 02:30"
    assert euros(Decimal("3340.8")) == "3\u00a0340,80\u00a0€"
    assert euros("-12.5") == "-12,50\u00a0€"
    with pytest.raises(TypeError):
        euros(12.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="naive"):
        reunion_time(datetime(2026, 12, 1, 12, 0))
