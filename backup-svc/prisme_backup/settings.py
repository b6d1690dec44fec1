"""backup-svc settings (env prefix ``PRISME_``, service-specific ``PRISME_BACKUP_``)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar
from urllib.parse import urlsplit

from prisme_chassis.sealing import Keyring, decode_key, decode_keys
from prisme_chassis.settings import ServiceSettings, secret_from_data_dir
from pydantic import AliasChoices, Field, model_validator

from . import domain


class BackupSettings(ServiceSettings):
    secret_fields: ClassVar[tuple[str, ...]] = ("master_key",)

    http_port: int = 8005
    database_url: str = Field(
        validation_alias=AliasChoices("database_url", "PRISME_BACKUP_DATABASE_URL")
    )
    master_key: str | None = Field(
        default=None,
        repr=False,
        description="base64 of 32 bytes: encrypts the repositories' passwords (AES-GCM)",
        validation_alias=AliasChoices("master_key", "PRISME_BACKUP_MASTER_KEY"),
    )
    previous_master_keys: str = Field(
        default="",
        repr=False,
        description="Keys rotated out (comma-separated base64): they still open what they "
        "sealed; new seals use master_key (libs/README.md, key rotation)",
        validation_alias=AliasChoices("previous_master_keys", "PRISME_BACKUP_PREVIOUS_MASTER_KEYS"),
    )
    repository_base: str | None = Field(
        default=None,
        description="Where the repositories live, as backup-svc itself reaches them (forget, "
        "prune, check, export, purge): a local directory (default: data_dir/repositories) or a "
        "restic backend URL prefix such as s3:https://s3.example.net/bucket/prisme. The "
        "repository server serves the same storage to the agents.",
        validation_alias=AliasChoices("repository_base", "PRISME_BACKUP_REPOSITORY_BASE"),
    )
    repository_env: dict[str, str] = Field(
        default_factory=dict,
        repr=False,
        description="backup-svc's own backend credentials (AWS_ACCESS_KEY_ID, AZURE_ACCOUNT_KEY…); "
        "never handed to an agent",
        validation_alias=AliasChoices("repository_env", "PRISME_BACKUP_REPOSITORY_ENV"),
    )
    repository_server_url: str = Field(
        default="http://127.0.0.1:8007",
        description="The restic REST server the agents reach (rclone serve restic "
        "--append-only --private-repos); https in production",
        validation_alias=AliasChoices(
            "repository_server_url", "PRISME_BACKUP_REPOSITORY_SERVER_URL"
        ),
    )
    repository_users_file: Path | None = Field(
        default=None,
        description="The repository server's htpasswd file, written by backup-svc: one user per "
        "plan (default: data_dir/repository-users.htpasswd)",
        validation_alias=AliasChoices(
            "repository_users_file", "PRISME_BACKUP_REPOSITORY_USERS_FILE"
        ),
    )
    quota_bytes: int = Field(
        default=domain.QUOTA_BYTES,
        gt=0,
        description="K1 quota of a new plan",
        validation_alias=AliasChoices("quota_bytes", "PRISME_BACKUP_QUOTA_BYTES"),
    )
    restic_binary: str = Field(
        default="restic", validation_alias=AliasChoices("restic_binary", "PRISME_BACKUP_RESTIC")
    )
    watch_interval: float = Field(
        default=60.0,
        validation_alias=AliasChoices("watch_interval", "PRISME_BACKUP_WATCH_INTERVAL"),
    )
    enrolment_ttl_hours: int = Field(
        default=72,
        validation_alias=AliasChoices("enrolment_ttl_hours", "PRISME_BACKUP_ENROLMENT_TTL_HOURS"),
    )

    @model_validator(mode="after")
    def _tls_in_production(self) -> BackupSettings:
        # The agents' storage credentials cross the internet: TLS outside development.
        if self.env == "production" and urlsplit(self.repository_server_url).scheme != "https":
            raise ValueError("repository_server_url must be https in production")
        return self


def master_key(settings: BackupSettings) -> bytes:
    """The 32-byte key sealing repository passwords and exports; generated in data_dir outside
    production."""
    if settings.master_key:
        return decode_key(settings.master_key, name="PRISME_BACKUP_MASTER_KEY")
    return secret_from_data_dir(settings, "backup-master", 32)


def keyring(settings: BackupSettings) -> Keyring:
    previous = decode_keys(settings.previous_master_keys, name="PRISME_BACKUP_PREVIOUS_MASTER_KEYS")
    return Keyring(master_key(settings), previous)
