"""What the use cases of video-svc need besides a database connection, built once at startup."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from .credentials import PasswordHashing, SessionCookies, cookie_key
from .domain import ThrottlePolicy
from .settings import VideoSettings
from .storage import LocalObjectStore, ObjectStore


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class VideoContext:
    settings: VideoSettings
    store: ObjectStore
    master_key: bytes
    hashing: PasswordHashing
    cookies: SessionCookies
    policy: ThrottlePolicy
    clock: Callable[[], datetime] = field(default=utcnow)


def build_context(settings: VideoSettings) -> VideoContext:
    master = settings.master_key_bytes()
    return VideoContext(
        settings=settings,
        store=LocalObjectStore(settings.objects_dir()),
        master_key=master,
        hashing=PasswordHashing(
            time_cost=settings.argon2_time_cost, memory_kib=settings.argon2_memory_kib
        ),
        cookies=SessionCookies(cookie_key(master)),
        policy=ThrottlePolicy(base_delay=timedelta(seconds=settings.throttle_base_delay_seconds)),
    )
