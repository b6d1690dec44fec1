"""Revoked integration tokens, shared by every service through a JetStream key-value bucket.

The dashboard writes one key per revoked token (its ``jti``; the value is the token's expiry,
so the entry can be dropped once the token would have expired anyway); every service watches
the bucket and keeps the set in memory, so a revoked token is refused by every service as soon
as the watch delivers the new key — well under a second (DESIGN §7, R4).  No secret travels:
only the token's id.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import timedelta

from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig
from nats.js.errors import BucketNotFoundError, KeyNotFoundError
from nats.js.kv import KV_DEL, KV_PURGE, KeyValue

log = logging.getLogger(__name__)

BUCKET = "prisme-revocations"
#: when each integration token was last used (jti → unix time), written by every service
USAGE_BUCKET = "prisme-token-usage"
#: a token's use is written at most this often per process
USAGE_EVERY = 60.0
#: entries older than this are forgotten: no platform token lives longer (integration tokens
#: are issued for at most a year)
MAX_TOKEN_LIFETIME = timedelta(days=366)


class RevocationList:
    """The ids (``jti``) of revoked tokens this process knows of."""

    def __init__(self) -> None:
        self._revoked: dict[str, float] = {}
        self.loaded = asyncio.Event()

    def __contains__(self, jti: object) -> bool:
        return isinstance(jti, str) and jti in self._revoked

    def __len__(self) -> int:
        return len(self._revoked)

    def add(self, jti: str, expires_at: float) -> None:
        self._revoked[jti] = expires_at
        self._forget_expired()

    def discard(self, jti: str) -> None:
        self._revoked.pop(jti, None)

    def _forget_expired(self) -> None:
        # a revoked token past its own expiry is refused anyway
        now = time.time()
        for jti in [j for j, exp in self._revoked.items() if exp < now - 60]:
            del self._revoked[jti]


class TokenUsage:
    """Integration tokens this process saw, waiting to be written to the usage bucket."""

    def __init__(self) -> None:
        self._seen: dict[str, float] = {}
        self._written: dict[str, float] = {}

    def record(self, jti: str) -> None:
        self._seen[jti] = time.time()

    def due(self) -> dict[str, float]:
        """Uses not written in the last :data:`USAGE_EVERY` seconds (and forget them)."""
        due = {
            jti: at
            for jti, at in self._seen.items()
            if at - self._written.get(jti, 0.0) >= USAGE_EVERY
        }
        self._seen.clear()
        self._written.update(due)
        return due


async def ensure_bucket(js: JetStreamContext, replicas: int = 1, bucket: str = BUCKET) -> KeyValue:
    try:
        return await js.key_value(bucket)
    except BucketNotFoundError:
        return await js.create_key_value(
            KeyValueConfig(
                bucket=bucket,
                description="platform tokens: revoked (jti → expiry, written by the dashboard)"
                if bucket == BUCKET
                else "integration tokens' last use (jti → time), written by every service",
                history=1,
                ttl=MAX_TOKEN_LIFETIME.total_seconds(),
                replicas=replicas,
            )
        )


async def write_usage(js: JetStreamContext, usage: TokenUsage, replicas: int = 1) -> None:
    """Flush ``usage`` to the bucket every second until cancelled."""
    kv = await ensure_bucket(js, replicas, USAGE_BUCKET)
    while True:
        for jti, at in usage.due().items():
            await kv.put(jti, json.dumps({"at": at}).encode())
        await asyncio.sleep(1.0)


async def last_uses(js: JetStreamContext, jtis: list[str]) -> dict[str, float]:
    """When each of ``jtis`` was last used, as far as the services reported it."""
    try:
        kv = await js.key_value(USAGE_BUCKET)
    except BucketNotFoundError:
        return {}
    found: dict[str, float] = {}
    for jti in jtis:
        try:
            entry = await kv.get(jti)
        except KeyNotFoundError:
            continue
        found[jti] = float(json.loads(entry.value or b"{}").get("at", 0))
    return found


async def revoke(js: JetStreamContext, jti: str, expires_at: float) -> None:
    """Publish a revocation (the dashboard, after its own commit)."""
    kv = await js.key_value(BUCKET)
    await kv.put(jti, json.dumps({"exp": expires_at}).encode())


async def watch(js: JetStreamContext, revocations: RevocationList, replicas: int = 1) -> None:
    """Keep ``revocations`` current until cancelled (run under the chassis' supervisor)."""
    kv = await ensure_bucket(js, replicas)
    watcher = await kv.watchall()
    try:
        async for entry in watcher:
            if entry is None:  # the initial values are all in
                revocations.loaded.set()
                continue
            if entry.operation in (KV_DEL, KV_PURGE):
                revocations.discard(entry.key)
                continue
            try:
                expires_at = float(json.loads(entry.value or b"{}").get("exp", 0))
            except (ValueError, AttributeError):
                log.warning("revocation %s has an unreadable value; treated as revoked", entry.key)
                expires_at = time.time() + MAX_TOKEN_LIFETIME.total_seconds()
            revocations.add(entry.key, expires_at)
            if entry.delta == 0:
                revocations.loaded.set()
    finally:
        await watcher.stop()  # type: ignore[no-untyped-call]
