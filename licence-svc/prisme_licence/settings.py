"""licence-svc settings (env prefix ``PRISME_`` / ``PRISME_LICENCE_``)."""

from __future__ import annotations

from typing import ClassVar

from prisme_chassis.settings import ServiceSettings
from pydantic import AliasChoices, Field, model_validator


def _alias(name: str) -> AliasChoices:
    return AliasChoices(name, f"PRISME_LICENCE_{name.upper()}")


class LicenceSettings(ServiceSettings):
    secret_fields: ClassVar[tuple[str, ...]] = ("graph_client_secret", "credentials_key")

    http_port: int = 8003
    database_url: str = Field(
        validation_alias=AliasChoices("database_url", "PRISME_LICENCE_DATABASE_URL")
    )
    # The provider's multi-tenant app, consented in each practice's tenant: one client id and
    # secret, one token per tenant (client credentials).
    # Empty means: the local sandbox (port 8010) in development/test, Microsoft in production.
    graph_base_url: str = Field(default="", validation_alias=_alias("graph_base_url"))
    graph_token_url: str = Field(
        default="",
        validation_alias=_alias("graph_token_url"),
        description="Token endpoint; {tenant} is replaced by the tenant id or domain",
    )
    graph_client_id: str = Field(
        default="prisme-licence-dev", validation_alias=_alias("graph_client_id")
    )
    graph_client_secret: str | None = Field(
        default=None, validation_alias=_alias("graph_client_secret")
    )
    # Practices without their own tenant use the provider's (and its verified domain).
    default_tenant: str = Field(
        default="prisme-provider", validation_alias=_alias("default_tenant")
    )
    default_domain: str = Field(default="prisme.re", validation_alias=_alias("default_domain"))
    default_sku: str = Field(default="O365_BUSINESS", validation_alias=_alias("default_sku"))
    usage_location: str = Field(default="FR", validation_alias=_alias("usage_location"))
    # AES-256-GCM key for initial passwords at rest (base64url, 32 bytes); generated into
    # data_dir in development/test, required in production.
    credentials_key: str | None = Field(default=None, validation_alias=_alias("credentials_key"))
    # Keys rotated out (comma-separated base64): they still open what they sealed (libs/README).
    credentials_previous_keys: str = Field(
        default="", repr=False, validation_alias=_alias("credentials_previous_keys")
    )
    credential_ttl_seconds: float = Field(
        default=7 * 86400, gt=0, validation_alias=_alias("credential_ttl_seconds")
    )
    # $batch calls in flight per tenant and process (Graph throttles a tenant, L4)
    per_tenant_concurrency: int = Field(
        default=4, ge=1, validation_alias=_alias("per_tenant_concurrency")
    )
    # claimed batches of jobs in flight per job kind and process
    max_concurrent_batches: int = Field(
        default=8, ge=1, validation_alias=_alias("max_concurrent_batches")
    )
    # requests per $batch call (Graph's limit is 20)
    batch_size: int = Field(default=20, ge=1, le=20, validation_alias=_alias("batch_size"))
    # jobs of one tenant leased together and run as one set of $batch rounds (P2: 200 rather
    # than 50 took the 10,000-contract year-end from 54 to 43 s)
    jobs_per_claim: int = Field(
        default=200, ge=1, le=1000, validation_alias=_alias("jobs_per_claim")
    )
    job_lease_seconds: float = Field(
        default=30.0, gt=0, validation_alias=_alias("job_lease_seconds")
    )
    credential_purge_seconds: float = Field(
        default=5.0, gt=0, validation_alias=_alias("credential_purge_seconds")
    )
    seat_recheck_seconds: float = Field(
        default=60.0, gt=0, validation_alias=_alias("seat_recheck_seconds")
    )
    backoff_base_seconds: float = Field(
        default=1.0, gt=0, validation_alias=_alias("backoff_base_seconds")
    )
    backoff_cap_seconds: float = Field(
        default=300.0, gt=0, validation_alias=_alias("backoff_cap_seconds")
    )
    max_attempts: int = Field(default=25, ge=1, validation_alias=_alias("max_attempts"))
    graph_timeout_seconds: float = Field(
        default=30.0, gt=0, validation_alias=_alias("graph_timeout_seconds")
    )

    @model_validator(mode="after")
    def _graph_urls(self) -> LicenceSettings:
        if not self.graph_base_url:
            self.graph_base_url = (
                "https://graph.microsoft.com/v1.0"
                if self.env == "production"
                else "http://127.0.0.1:8010/v1.0"
            )
        if not self.graph_token_url:
            self.graph_token_url = (
                "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"
                if self.env == "production"
                else "http://127.0.0.1:8010/{tenant}/oauth2/v2.0/token"
            )
        if "{tenant}" not in self.graph_token_url:
            raise ValueError("graph_token_url must contain {tenant}")
        return self
