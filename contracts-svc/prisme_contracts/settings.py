"""contracts-svc settings (env prefix ``PRISME_``, service-specific ``PRISME_CONTRACTS_``)."""

from __future__ import annotations

from prisme_chassis.settings import ServiceSettings
from pydantic import AliasChoices, Field


class ContractsSettings(ServiceSettings):
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
        default=60.0,
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
