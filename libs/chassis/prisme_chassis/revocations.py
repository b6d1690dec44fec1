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
from nats.js.errors import BucketNotFoundError
from nats.js.kv import KV_DEL, KV_PURGE, KeyValue

log = logging.getLogger(__name__)

BUCKET = "prisme-revocations"
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


async def ensure_bucket(js: JetStreamContext, replicas: int = 1) -> KeyValue:
    try:
        return await js.key_value(BUCKET)
    except BucketNotFoundError:
        return await js.create_key_value(
            KeyValueConfig(
                bucket=BUCKET,
                description="revoked platform tokens (jti → expiry); written by the dashboard",
                history=1,
                ttl=MAX_TOKEN_LIFETIME.total_seconds(),
                replicas=replicas,
            )
        )


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
