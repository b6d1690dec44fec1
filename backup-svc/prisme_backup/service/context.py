"""What the use cases need from the running service (no SQL, no HTTP)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from prisme_chassis.sealing import Keyring

from ..settings import BackupSettings, keyring


@dataclass(frozen=True)
class Backups:
    """Configuration the backup use cases share: where repositories go, the sealing keys.

    ``repository_base``/``repository_env`` are backup-svc's own access to the storage;
    ``repository_server_url`` and ``users_file`` are the agents' (one user per plan)."""

    keyring: Keyring = field(repr=False)
    repository_base: str
    repository_env: dict[str, str] = field(repr=False)
    restic_binary: str
    data_dir: Path
    repository_server_url: str
    users_file: Path
    quota_bytes: int
    enrolment_ttl_hours: int = 72

    @classmethod
    def from_settings(cls, settings: BackupSettings) -> Backups:
        base = settings.repository_base or str(Path(settings.data_dir).resolve() / "repositories")
        return cls(
            keyring=keyring(settings),
            repository_base=base.rstrip("/"),
            repository_env=dict(settings.repository_env),
            restic_binary=settings.restic_binary,
            data_dir=Path(settings.data_dir),
            repository_server_url=settings.repository_server_url.rstrip("/"),
            users_file=settings.repository_users_file
            or Path(settings.data_dir).resolve() / "repository-users.htpasswd",
            quota_bytes=settings.quota_bytes,
            enrolment_ttl_hours=settings.enrolment_ttl_hours,
        )
