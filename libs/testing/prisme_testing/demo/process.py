"""The demo service as a real process (crash and SIGKILL tests of the chassis)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ..runner import ServiceProcess


def demo_process(
    dsn: str,
    nats_url: str,
    public_key: str,
    tmp_path: Path,
    extra_env: Mapping[str, str] | None = None,
    *,
    log_name: str = "demo.log",
) -> ServiceProcess:
    """The demo service as a real process, logging to ``tmp_path/log_name``."""
    env = {
        "PRISME_ENV": "test",
        "PRISME_NATS_URL": nats_url,
        "PRISME_DEMO_DATABASE_URL": dsn,
        "PRISME_JWT_PUBLIC_KEY": public_key,
        "PRISME_DATA_DIR": str(tmp_path),
        **(extra_env or {}),
    }
    return ServiceProcess("prisme_testing.demo", env, log_file=tmp_path / log_name)
