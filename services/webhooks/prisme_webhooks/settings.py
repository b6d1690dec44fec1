"""Settings of the webhooks service (env prefix ``PRISME_WEBHOOKS_``)."""

from __future__ import annotations

from typing import Annotated, ClassVar

from prisme_chassis.mail import SmtpSettings
from prisme_chassis.settings import ServiceSettings
from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import NoDecode

#: DESIGN.md §4: retries 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h after the first attempt.
DEFAULT_RETRY_SCHEDULE: tuple[float, ...] = (5, 300, 1800, 7200, 18000, 36000, 36000)


def _alias(name: str) -> AliasChoices:
    return AliasChoices(name, f"PRISME_WEBHOOKS_{name.upper()}")


def _split(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class WebhooksSettings(ServiceSettings, SmtpSettings):
    """The relay is the chassis' (``PRISME_SMTP_*``, prisme_chassis.mail); the sender of
    alerts is ``PRISME_WEBHOOKS_MAIL_FROM``."""

    secret_fields: ClassVar[tuple[str, ...]] = ("master_key",)

    http_port: int = 8006
    database_url: str = Field(validation_alias=_alias("database_url"))

    # -- deliveries ---------------------------------------------------------------------------
    retry_schedule: Annotated[tuple[float, ...], NoDecode] = Field(
        default=DEFAULT_RETRY_SCHEDULE,
        validation_alias=_alias("retry_schedule"),
        description="seconds between attempts, comma-separated",
    )
    timeout_seconds: float = Field(default=15.0, validation_alias=_alias("timeout_seconds"))
    disable_after_days: float = Field(default=5.0, validation_alias=_alias("disable_after_days"))
    endpoint_concurrency: int = Field(
        default=8, ge=1, validation_alias=_alias("endpoint_concurrency")
    )
    delivery_concurrency: int = Field(
        default=64, ge=1, validation_alias=_alias("delivery_concurrency")
    )
    #: deliveries of one endpoint claimed, sent and recorded together (one claim statement and
    #: one recording transaction per batch instead of per delivery)
    delivery_batch: int = Field(default=250, ge=1, validation_alias=_alias("delivery_batch"))
    rotation_overlap_hours: float = Field(
        default=24.0, validation_alias=_alias("rotation_overlap_hours")
    )
    #: refuse http and non-public addresses (DESIGN.md §7); on by default in production only
    public_urls_only: bool | None = Field(default=None, validation_alias=_alias("public_urls_only"))
    #: sealing key of the endpoints' signing secrets, base64 of 32 bytes (chassis sealing);
    #: generated in data_dir outside production
    master_key: SecretStr | None = Field(default=None, validation_alias=_alias("master_key"))
    #: keys that still open secrets sealed before a rotation (comma-separated base64)
    previous_master_keys: SecretStr | None = Field(
        default=None, validation_alias=_alias("previous_master_keys")
    )

    # -- alerts -----------------------------------------------------------------------------
    mail_from: str = Field(
        default="PRISME alertes <alertes@prisme.local>", validation_alias=_alias("mail_from")
    )
    technicians: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["technique@prisme.local"],
        validation_alias=_alias("technicians"),
    )
    accountants: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["comptabilite@prisme.local"],
        validation_alias=_alias("accountants"),
    )
    #: a held alert re-reads the clock this often (seconds), so a moved clock is seen
    alert_recheck_seconds: float = Field(
        default=60.0, gt=0, validation_alias=_alias("alert_recheck_seconds")
    )

    @field_validator("retry_schedule", mode="before")
    @classmethod
    def _schedule(cls, value: object) -> object:
        parts = _split(value)
        if isinstance(parts, list) and not parts:
            raise ValueError("retry_schedule needs at least one delay")
        return parts

    @field_validator("technicians", "accountants", mode="before")
    @classmethod
    def _addresses(cls, value: object) -> object:
        return _split(value)

    @property
    def enforce_public_urls(self) -> bool:
        if self.public_urls_only is not None:
            return self.public_urls_only
        return self.env == "production"
