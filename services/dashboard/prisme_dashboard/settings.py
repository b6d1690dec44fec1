"""Settings of the dashboard (env prefix ``PRISME_``, own settings ``PRISME_DASHBOARD_*``)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from prisme_chassis.settings import ServiceSettings, refuse_placeholder, secret_from_data_dir
from pydantic import AliasChoices, Field, SecretStr, model_validator


def _alias(name: str) -> AliasChoices:
    return AliasChoices(name, f"PRISME_DASHBOARD_{name.upper()}")


class DashboardSettings(ServiceSettings):
    secret_fields: ClassVar[tuple[str, ...]] = ("secret_key",)

    http_port: int = 8000
    database_url: str = Field(validation_alias=_alias("database_url"))
    secret_key: SecretStr | None = Field(
        default=None,
        validation_alias=_alias("secret_key"),
        description="Seals TOTP seeds and signs the sign-in form's CSRF token (hex of 32 "
        "bytes or more). Generated into data_dir in development/test, required in production.",
    )
    previous_secret_keys: SecretStr | None = Field(
        default=None,
        validation_alias=_alias("previous_secret_keys"),
        description="Comma-separated former secret keys (hex): TOTP seeds sealed under them "
        "still open after a rotation",
    )
    signing_key: SecretStr | None = Field(
        default=None,
        validation_alias=_alias("signing_key"),
        description="PEM of the platform's Ed25519 private key: the dashboard signs the "
        "operators' short-lived tokens with it (or give signing_key_file).",
    )
    signing_key_file: Path | None = Field(default=None, validation_alias=_alias("signing_key_file"))
    public_url: str | None = Field(
        default=None,
        validation_alias=_alias("public_url"),
        description="The origin operators' browsers use (e.g. https://prisme.example); "
        "state-changing forms must come from it. Default: the request's own host.",
    )
    session_idle_minutes: int = Field(
        default=30, ge=1, validation_alias=_alias("session_idle_minutes")
    )
    session_absolute_hours: int = Field(
        default=12, ge=1, validation_alias=_alias("session_absolute_hours")
    )
    login_free_failures: int = Field(
        default=5,
        ge=1,
        validation_alias=_alias("login_free_failures"),
        description="failed sign-ins per address or account before the delay starts",
    )
    login_base_delay_seconds: float = Field(
        default=2.0, gt=0, validation_alias=_alias("login_base_delay_seconds")
    )
    login_max_delay_seconds: float = Field(
        default=900.0, gt=0, validation_alias=_alias("login_max_delay_seconds")
    )

    # The services the pages call, as the signed-in operator (defaults: `prisme up`'s ports)
    contracts_url: str = Field(
        default="http://127.0.0.1:8001", validation_alias=_alias("contracts_url")
    )
    billing_url: str = Field(
        default="http://127.0.0.1:8002", validation_alias=_alias("billing_url")
    )
    licence_url: str = Field(
        default="http://127.0.0.1:8003", validation_alias=_alias("licence_url")
    )
    video_url: str = Field(default="http://127.0.0.1:8004", validation_alias=_alias("video_url"))
    backup_url: str = Field(default="http://127.0.0.1:8005", validation_alias=_alias("backup_url"))
    webhooks_url: str = Field(
        default="http://127.0.0.1:8006", validation_alias=_alias("webhooks_url")
    )

    video_upload_max_bytes: int = Field(
        default=20 * 1024**3 + 1024**2,
        gt=0,
        validation_alias=_alias("video_upload_max_bytes"),
        description="largest body of the Vidéos upload form (the recording and its fields); "
        "video-svc applies its own limit to the file",
    )

    oidc_issuer: str | None = Field(
        default=None,
        validation_alias=_alias("oidc_issuer"),
        description="OpenID Connect issuer, pinned (Entra ID: "
        "https://login.microsoftonline.com/<tenant id>/v2.0); unset: no OpenID sign-in",
    )
    oidc_client_id: str | None = Field(default=None, validation_alias=_alias("oidc_client_id"))
    oidc_client_secret: SecretStr | None = Field(
        default=None, validation_alias=_alias("oidc_client_secret")
    )
    oidc_group_roles: dict[str, str] = Field(
        default_factory=dict,
        validation_alias=_alias("oidc_group_roles"),
        description='JSON: IdP group id → role, e.g. {"<group object id>": "technician"}',
    )
    oidc_label: str = Field(default="Microsoft Entra ID", validation_alias=_alias("oidc_label"))

    @model_validator(mode="after")
    def _read_signing_key_file(self) -> DashboardSettings:
        if self.signing_key is None and self.signing_key_file is not None:
            try:
                pem = self.signing_key_file.read_text(encoding="ascii")
            except OSError as exc:
                raise ValueError(
                    f"cannot read signing_key_file {self.signing_key_file}: {exc}"
                ) from exc
            self.signing_key = SecretStr(pem)
        # after reading the file: the chassis' own check runs before this validator
        refuse_placeholder(self.env, "signing_key", self.signing_key)
        return self

    def previous_secret_keys_bytes(self) -> list[bytes]:
        if self.previous_secret_keys is None:
            return []
        return [
            bytes.fromhex(part.strip())
            for part in self.previous_secret_keys.get_secret_value().split(",")
            if part.strip()
        ]

    def secret_key_bytes(self) -> bytes:
        if self.secret_key is not None:
            value = self.secret_key.get_secret_value()
            try:
                raw = bytes.fromhex(value)
            except ValueError as exc:
                raise ValueError("PRISME_DASHBOARD_SECRET_KEY must be hex") from exc
            if len(raw) < 32:
                raise ValueError("PRISME_DASHBOARD_SECRET_KEY must hold at least 32 bytes")
            return raw
        return secret_from_data_dir(self, "dashboard-secret", 32)
