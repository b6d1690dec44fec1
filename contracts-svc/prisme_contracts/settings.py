"""contracts-svc settings (env prefix ``PRISME_``, service-specific ``PRISME_CONTRACTS_``)."""

from __future__ import annotations

from typing import ClassVar

from prisme_chassis.settings import ServiceSettings
from pydantic import AliasChoices, Field, SecretStr, model_validator


class ContractsSettings(ServiceSettings):
    secret_fields: ClassVar[tuple[str, ...]] = ("documents_key",)

    http_port: int = 8001
    database_url: str = Field(
        validation_alias=AliasChoices("database_url", "PRISME_CONTRACTS_DATABASE_URL")
    )
    year_end_batch_size: int = Field(
        default=1000,
        ge=1,
        le=50_000,
        validation_alias=AliasChoices(
            "year_end_batch_size", "PRISME_CONTRACTS_YEAR_END_BATCH_SIZE"
        ),
    )
    year_end_check_seconds: float = Field(
        default=1.0,
        gt=0,
        le=3600,
        validation_alias=AliasChoices(
            "year_end_check_seconds", "PRISME_CONTRACTS_YEAR_END_CHECK_SECONDS"
        ),
        description="How often the scheduler looks at the clock while waiting for 1 January",
    )
    cessation_check_seconds: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        validation_alias=AliasChoices(
            "cessation_check_seconds", "PRISME_CONTRACTS_CESSATION_CHECK_SECONDS"
        ),
        description="How often scheduled cessations (C6) are checked against the clock",
    )
    #: B1: billing-svc, asked at activation whether the offer has a price. Required in
    #: production; left unset only in development and tests (activation then skips the check).
    billing_url: str | None = Field(
        default=None, validation_alias=AliasChoices("billing_url", "PRISME_CONTRACTS_BILLING_URL")
    )
    #: A bearer token with ``billing:read`` (an integration token an admin creates).
    billing_token: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("billing_token", "PRISME_CONTRACTS_BILLING_TOKEN"),
    )

    documents_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("documents_key", "PRISME_CONTRACTS_DOCUMENTS_KEY"),
        description="Base64 of 32 random bytes; seals cessation documents (C6). Generated into "
        "data_dir in development/test, required in production.",
    )
    documents_previous_keys: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "documents_previous_keys", "PRISME_CONTRACTS_DOCUMENTS_PREVIOUS_KEYS"
        ),
        description="Keys rotated out (comma-separated base64): documents they sealed still "
        "open; new ones use documents_key (libs/README.md, key rotation).",
    )

    @model_validator(mode="after")
    def _billing_check_in_production(self) -> ContractsSettings:
        if self.env == "production" and (not self.billing_url or not self.billing_token):
            raise ValueError(
                "production needs PRISME_CONTRACTS_BILLING_URL and PRISME_CONTRACTS_BILLING_TOKEN"
                " (B1: an offer without a price must not be activated)"
            )
        return self
