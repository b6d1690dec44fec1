"""Settings shared by every service, and the rules for its secrets.

Every service subclasses :class:`ServiceSettings` (env prefix ``PRISME_``) and adds its own
fields with the ``PRISME_<SVC>_`` prefix through ``validation_alias``.

Secrets follow one rule (conventions, DESIGN §7): in ``development``/``test`` a missing secret
is generated once into ``data_dir`` (mode 0600) and reused (:func:`secret_from_data_dir`); in
``production`` it is required and placeholders are refused.  To get the refusal, a subclass
lists its secret fields in ``secret_fields``; the base class validator checks them::

    class BillingSettings(ServiceSettings):
        secret_fields: ClassVar[tuple[str, ...]] = ("stripe_api_key", "stripe_webhook_secret")
        stripe_api_key: str | None = Field(
            default=None,
            validation_alias=AliasChoices("stripe_api_key", "PRISME_BILLING_STRIPE_API_KEY"),
        )

With ``PRISME_ENV=production`` and ``PRISME_BILLING_STRIPE_API_KEY=changeme`` (or unset, or
empty) building the settings fails with a ``ValidationError`` naming the field.  A validator
written by hand can call :func:`refuse_placeholder` for the same check.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Env = Literal["development", "test", "production"]

#: Values that mean "nobody set this secret": refused in production.
PLACEHOLDER_SECRETS: frozenset[str] = frozenset(
    {
        "",
        "changeme",
        "change-me",
        "change_me",
        "dev",
        "development",
        "test",
        "secret",
        "password",
        "placeholder",
        "xxx",
        "todo",
    }
)


class SecretUnavailableError(RuntimeError):
    """A secret must be configured explicitly (production) or its stored copy is unusable."""


def is_placeholder(value: object) -> bool:
    """True when ``value`` is missing, empty or a well-known placeholder such as ``changeme``."""
    if value is None:
        return True
    text = value.get_secret_value() if hasattr(value, "get_secret_value") else value
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if not isinstance(text, str):
        return False
    return text.strip().lower() in PLACEHOLDER_SECRETS


def refuse_placeholder(env: str, name: str, value: object) -> None:
    """Raise ``ValueError`` when ``env`` is production and ``value`` is a placeholder.

    Use it inside a ``model_validator(mode="after")`` of a service settings class; pydantic
    turns the ``ValueError`` into a ``ValidationError``.  The value itself is never echoed.
    """
    if env == "production" and is_placeholder(value):
        raise ValueError(f"{name} must be set to a real secret in production")


class ServiceSettings(BaseSettings):
    """Settings every service has (libs/README.md).  Subclass it per service."""

    model_config = SettingsConfigDict(
        env_prefix="PRISME_",
        extra="ignore",
        populate_by_name=True,
        # validation errors would otherwise print the whole input, secrets included
        hide_input_in_errors=True,
    )

    #: Names of fields holding secrets; refused when placeholders in production.
    secret_fields: ClassVar[tuple[str, ...]] = ()

    env: Env = "development"
    nats_url: str = "nats://127.0.0.1:4222"
    nats_provision_url: str | None = None
    """The provisioning identity's NATS URL: streams and consumers are created with it at
    start-up (the service's own user may not); without it they must already be in place."""
    jwt_public_key: str
    """PEM of the platform's Ed25519 public key (or give ``jwt_public_key_file``)."""
    jwt_public_key_file: Path | None = None
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    otlp_endpoint: str | None = None
    log_level: str = "INFO"
    stream_replicas: int = 1
    data_dir: Path = Path(".prisme/service")

    @model_validator(mode="before")
    @classmethod
    def _read_public_key_file(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        key = data.get("jwt_public_key")
        path = data.get("jwt_public_key_file")
        if not key and path:
            try:
                pem = Path(path).read_text(encoding="ascii")
            except OSError as exc:
                raise ValueError(f"cannot read jwt_public_key_file {path}: {exc}") from exc
            return {**data, "jwt_public_key": pem}
        return data

    @model_validator(mode="after")
    def _check_secrets(self) -> ServiceSettings:
        if "BEGIN PUBLIC KEY" not in self.jwt_public_key:
            raise ValueError("jwt_public_key must be a PEM public key")
        for name in type(self).secret_fields:
            refuse_placeholder(self.env, name, getattr(self, name))
        return self


def secret_from_data_dir(settings: ServiceSettings, name: str, nbytes: int) -> bytes:
    """Return the ``nbytes`` random secret ``name`` kept in ``data_dir/<name>.key``.

    Development and test only: the first call generates it (file mode 0600, created
    atomically so concurrent processes agree on one value) and later calls reuse it.  In
    production secrets must come from configuration, so this raises
    :class:`SecretUnavailableError`.
    """
    if settings.env == "production":
        raise SecretUnavailableError(f"secret {name!r} must be configured explicitly in production")
    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"invalid secret name {name!r}")
    directory = Path(settings.data_dir)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.key"
    if not path.exists():
        tmp = directory / f".{name}.{secrets.token_hex(8)}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(secrets.token_bytes(nbytes))
                fh.flush()
                os.fsync(fh.fileno())
            # link() fails if another process won the race; its value is then the one kept.
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    value = path.read_bytes()
    if len(value) != nbytes:
        raise SecretUnavailableError(
            f"{path} holds {len(value)} bytes, expected {nbytes}; remove it to regenerate"
        )
    return value
