"""What the use cases of video-svc need besides a database connection, built once at startup."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends
from prisme_chassis.app import Runtime, runtime_dependency
from prisme_chassis.sealing import Keyring

from .credentials import PasswordHashing, SessionCookies, cookie_key
from .domain import ThrottlePolicy
from .settings import VideoSettings
from .storage import LocalObjectStore, ObjectStore


@dataclass
class VideoContext:
    settings: VideoSettings
    store: ObjectStore
    master_key: bytes
    keyring: Keyring
    hashing: PasswordHashing
    cookies: SessionCookies
    policy: ThrottlePolicy


def build_store(settings: VideoSettings) -> ObjectStore:
    if settings.storage_backend == "s3":
        # boto3 (~16 MB) only where recordings live in S3 (P5)
        from .storage_s3 import S3ObjectStore, s3_client

        assert settings.s3_bucket is not None  # checked by the settings
        secret = settings.s3_secret_access_key
        client = s3_client(
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=secret.get_secret_value() if secret is not None else None,
        )
        return S3ObjectStore(client, settings.s3_bucket, settings.s3_prefix)
    return LocalObjectStore(settings.objects_dir())


def build_context(settings: VideoSettings) -> VideoContext:
    master = settings.master_key_bytes()
    return VideoContext(
        settings=settings,
        store=build_store(settings),
        master_key=master,
        keyring=Keyring(master, settings.previous_master_keys_bytes()),
        hashing=PasswordHashing(
            time_cost=settings.argon2_time_cost, memory_kib=settings.argon2_memory_kib
        ),
        cookies=SessionCookies(cookie_key(master)),
        policy=ThrottlePolicy(base_delay=timedelta(seconds=settings.throttle_base_delay_seconds)),
    )


VideoRuntime = Runtime[VideoSettings, VideoContext]
#: What video-svc's routes declare to receive the typed runtime.
VideoRuntimeDep = Annotated[VideoRuntime, Depends(runtime_dependency(VideoSettings, VideoContext))]
