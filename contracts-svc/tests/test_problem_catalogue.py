"""Every problem contracts-svc raises is its own rule's class, declared in the OpenAPI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import prisme_contracts
from prisme_contracts.app import build_app
from prisme_contracts.errors import CATALOGUE
from prisme_contracts.settings import ContractsSettings
from prisme_testing.problems import assert_problem_catalogue


def test_problems_are_declared_and_unique(base_settings: dict[str, Any]) -> None:
    app = build_app(ContractsSettings(**base_settings, database_url="postgresql://unused/x"))
    openapi = app.openapi()
    assert_problem_catalogue(openapi, Path(prisme_contracts.__file__).parent, CATALOGUE)
    activate = openapi["paths"]["/v1/contracts/{contract_id}/activate"]["post"]["responses"]
    refs = [
        r["$ref"] for r in activate["409"]["content"]["application/problem+json"]["schema"]["anyOf"]
    ]
    assert "#/components/schemas/Problem-not-a-draft" in refs
    component = openapi["components"]["schemas"]["Problem-year-not-over"]
    assert (
        component["properties"]["type"]["const"] == "https://prisme.example/problems/year-not-over"
    )
