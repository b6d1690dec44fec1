"""Every problem billing-svc raises is its own rule's class, declared in the OpenAPI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import prisme_billing
from prisme_billing.app import build_app, spec
from prisme_billing.settings import BillingSettings
from prisme_testing.problems import assert_problem_catalogue


def test_problems_are_declared_and_unique(base_settings: dict[str, Any]) -> None:
    app = build_app(BillingSettings(**base_settings, database_url="postgresql://unused/x"))
    assert_problem_catalogue(app.openapi(), Path(prisme_billing.__file__).parent, spec.errors)
