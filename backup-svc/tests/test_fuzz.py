"""R2: schemathesis (every check, coverage, fuzzing and stateful phases) against backup-svc."""

from __future__ import annotations

from prisme_backup.app import build_app
from prisme_backup.settings import BackupSettings
from prisme_testing.fuzz import fuzz_openapi
from prisme_testing.plugin import start_service


async def test_openapi_holds_under_every_check(
    backup_settings: BackupSettings, auth_headers: dict[str, str]
) -> None:
    async with start_service(build_app(backup_settings), headers=auth_headers) as api:
        failures = await fuzz_openapi(
            str(api.base_url), auth_headers, max_examples=5, every_check=True
        )
    assert failures == [], "\n".join(failures)
