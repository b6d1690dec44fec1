"""Settings of video-svc (env prefix ``PRISME_``, own settings ``PRISME_VIDEO_*``)."""

from __future__ import annotations

import base64
import binascii
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import ClassVar, Literal

from prisme_chassis.sealing import decode_keys
from prisme_chassis.settings import ServiceSettings, refuse_placeholder, secret_from_data_dir
from pydantic import AliasChoices, Field, SecretStr, model_validator

from .crypto import DEFAULT_CHUNK_SIZE, KEY_BYTES


def _alias(name: str) -> AliasChoices:
    return AliasChoices(name, f"PRISME_VIDEO_{name.upper()}")


class VideoSettings(ServiceSettings):
    secret_fields: ClassVar[tuple[str, ...]] = ("master_key",)

    http_port: int = 8004
    database_url: str = Field(
        validation_alias=AliasChoices("database_url", "PRISME_VIDEO_DATABASE_URL")
    )
    master_key: SecretStr | None = Field(
        default=None,
        validation_alias=_alias("master_key"),
        description="Base64 of 32 random bytes; wraps every video's data key. Generated into "
        "data_dir in development/test, required in production.",
    )
    previous_master_keys: SecretStr | None = Field(
        default=None,
        validation_alias=_alias("previous_master_keys"),
        description="Master keys rotated out (comma-separated base64): data keys they wrapped "
        "still unwrap; new videos use master_key (libs/README.md, key rotation).",
    )
    storage_dir: Path | None = Field(
        default=None,
        validation_alias=_alias("storage_dir"),
        description="Root of the local object store (default: data_dir/objects)",
    )
    storage_backend: Literal["local", "s3"] = Field(
        default="local", validation_alias=_alias("storage_backend")
    )
    s3_endpoint_url: str | None = Field(
        default=None,
        validation_alias=_alias("s3_endpoint_url"),
        description="An S3-compatible endpoint (MinIO, Scaleway, OVH…); AWS when unset",
    )
    s3_bucket: str | None = Field(default=None, validation_alias=_alias("s3_bucket"))
    s3_prefix: str = Field(default="videos/", validation_alias=_alias("s3_prefix"))
    s3_region: str = Field(default="eu-west-3", validation_alias=_alias("s3_region"))
    s3_access_key_id: str | None = Field(default=None, validation_alias=_alias("s3_access_key_id"))
    s3_secret_access_key: SecretStr | None = Field(
        default=None,
        validation_alias=_alias("s3_secret_access_key"),
        description="With the key id; leave both unset to use the platform's role credentials",
    )
    chunk_size: int = Field(
        default=DEFAULT_CHUNK_SIZE, ge=4096, validation_alias=_alias("chunk_size")
    )
    max_upload_bytes: int = Field(default=20 * 1024**3, validation_alias=_alias("max_upload_bytes"))
    public_base_url: str = Field(
        default="http://127.0.0.1:8004",
        validation_alias=_alias("public_base_url"),
        description="Base of the share links sent to practices",
    )
    retention_days: int = Field(default=30, ge=0, validation_alias=_alias("retention_days"))
    retention_interval_seconds: float = Field(
        default=3600.0, gt=0, validation_alias=_alias("retention_interval_seconds")
    )
    orphan_grace_hours: float = Field(
        default=24.0, gt=0, validation_alias=_alias("orphan_grace_hours")
    )
    session_minutes: int = Field(default=120, ge=1, validation_alias=_alias("session_minutes"))
    throttle_base_delay_seconds: float = Field(
        default=1.0, ge=0, validation_alias=_alias("throttle_base_delay_seconds")
    )
    #: proxies (CIDR) whose ``X-Forwarded-For`` is believed for the visitor's address (V4
    #: throttling, access log); none by default: the TCP peer is the visitor
    trusted_proxies: list[IPv4Network | IPv6Network] = Field(
        default_factory=list, validation_alias=_alias("trusted_proxies")
    )
    argon2_time_cost: int = Field(default=3, ge=1, validation_alias=_alias("argon2_time_cost"))
    argon2_memory_kib: int = Field(
        default=64 * 1024, ge=8 * 1024, validation_alias=_alias("argon2_memory_kib")
    )

    @model_validator(mode="after")
    def _check_master_key(self) -> VideoSettings:
        if self.master_key is not None and self.master_key.get_secret_value().strip():
            _decode_key(self.master_key.get_secret_value())
        if self.storage_backend == "s3":
            if not self.s3_bucket:
                raise ValueError("PRISME_VIDEO_S3_BUCKET is required with the s3 storage backend")
            if self.s3_access_key_id:
                refuse_placeholder(self.env, "s3_secret_access_key", self.s3_secret_access_key)
        return self

    @property
    def cookie_secure(self) -> bool:
        """Secure cookies outside local mode (the local viewer is served over plain HTTP)."""
        return self.env == "production"

    def objects_dir(self) -> Path:
        return self.storage_dir or Path(self.data_dir) / "objects"

    def previous_master_keys_bytes(self) -> list[bytes]:
        if self.previous_master_keys is None:
            return []
        return decode_keys(self.previous_master_keys.get_secret_value(), name="previous master key")

    def master_key_bytes(self) -> bytes:
        """The master key: configured, or generated once into data_dir outside production."""
        if self.master_key is not None and self.master_key.get_secret_value().strip():
            return _decode_key(self.master_key.get_secret_value())
        return secret_from_data_dir(self, "video-master", KEY_BYTES)


def _decode_key(value: str) -> bytes:
    try:
        key = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("PRISME_VIDEO_MASTER_KEY must be base64") from exc
    if len(key) != KEY_BYTES:
        raise ValueError(f"PRISME_VIDEO_MASTER_KEY must decode to {KEY_BYTES} bytes")
    return key
