"""Every problem backup-svc raises is its own rule's class, declared in the OpenAPI."""

from __future__ import annotations

from pathlib import Path

import prisme_backup
from prisme_backup.app import build_app
from prisme_backup.errors import CATALOGUE
from prisme_backup.settings import BackupSettings
from prisme_testing.problems import assert_problem_catalogue


def test_problems_are_declared_and_unique(backup_settings: BackupSettings) -> None:
    openapi = build_app(backup_settings).openapi()
    assert_problem_catalogue(openapi, Path(prisme_backup.__file__).parent, CATALOGUE)
    patch = openapi["paths"]["/v1/plans/{plan_id}"]["patch"]["responses"]
    refs = [
        r["$ref"] for r in patch["409"]["content"]["application/problem+json"]["schema"]["anyOf"]
    ]
    assert "#/components/schemas/Problem-plan-not-editable" in refs
    enrol = openapi["paths"]["/v1/agent/enrol"]["post"]["responses"]
    assert "Problem-enrolment-token-refused" in str(enrol["401"])
