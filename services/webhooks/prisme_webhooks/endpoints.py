"""Use cases on endpoints: create, change, rotate the secret, test, resend, recover."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from prisme_chassis.clock import now
from prisme_chassis.errors import NotFound, Unprocessable
from prisme_events import event_types

from . import domain, repository, signing
from .context import Context
from .delivery import enqueue_delivery
from .ssrf import UnsafeUrlError, check_url


class UnsafeUrl(Unprocessable):
    code = "unsafe_url"
    title = "URL refused"


class UnknownEventType(Unprocessable):
    code = "unknown_event_type"
    title = "Unknown event type filter"


def _check_filters(patterns: Sequence[str]) -> list[str]:
    known = [*filter(domain.for_integrators, event_types()), domain.TEST_EVENT]
    bad = [p for p in patterns if not domain.valid_filter(p) or not domain.known_pattern(p, known)]
    if bad or not patterns:
        raise UnknownEventType(
            "event_types must name published events, a family such as contract.* or *: "
            + (", ".join(bad) if bad else "none given")
        )
    return sorted(set(patterns))


async def _check_url(ctx: Context, url: str) -> None:
    try:
        await check_url(url, enforce=ctx.settings.enforce_public_urls)
    except UnsafeUrlError as exc:
        raise UnsafeUrl(str(exc)) from exc


async def create(
    conn: asyncpg.Connection,
    ctx: Context,
    *,
    url: str,
    event_types_: Sequence[str],
    description: str,
    enabled: bool,
    actor: str,
) -> tuple[asyncpg.Record, str]:
    """The new endpoint and its secret (returned this once, stored only sealed)."""
    await _check_url(ctx, url)
    patterns = _check_filters(event_types_)
    endpoint_id = uuid.uuid4()
    secret = signing.new_secret()
    sealed = ctx.keyring.seal_text(secret, str(endpoint_id))
    kid = ctx.keyring.sealed_with(sealed)
    row = await repository.insert_endpoint(
        conn,
        endpoint_id=endpoint_id,
        url=url,
        description=description,
        event_types=patterns,
        enabled=enabled,
        secret_kid=kid,
        secret_sealed=sealed,
        created_by=actor,
        now=now(),
    )
    return row, secret


async def get(conn: asyncpg.Connection, endpoint_id: uuid.UUID) -> asyncpg.Record:
    row = await repository.get_endpoint(conn, endpoint_id)
    if row is None:
        raise NotFound(f"no endpoint {endpoint_id}")
    return row


async def change(
    conn: asyncpg.Connection, ctx: Context, endpoint_id: uuid.UUID, changes: dict[str, Any]
) -> asyncpg.Record:
    await get(conn, endpoint_id)
    if "url" in changes:
        await _check_url(ctx, changes["url"])
    if "event_types" in changes:
        changes["event_types"] = _check_filters(changes["event_types"])
    if changes.get("enabled") is True:
        # enabled again by an operator: a fresh start for the 5-day rule
        changes |= {"disabled_reason": None, "failing_since": None}
    row = await repository.update_endpoint(conn, endpoint_id, changes, now())
    assert row is not None
    return row


async def delete(conn: asyncpg.Connection, endpoint_id: uuid.UUID) -> None:
    if not await repository.delete_endpoint(conn, endpoint_id):
        raise NotFound(f"no endpoint {endpoint_id}")


async def rotate(
    conn: asyncpg.Connection, ctx: Context, endpoint_id: uuid.UUID
) -> tuple[str, datetime]:
    """A new secret; the old one keeps signing alongside it for the overlap (24 h)."""
    row = await repository.get_endpoint(conn, endpoint_id, lock=True)
    if row is None:
        raise NotFound(f"no endpoint {endpoint_id}")
    secret = signing.new_secret()
    sealed = ctx.keyring.seal_text(secret, str(endpoint_id))
    kid = ctx.keyring.sealed_with(sealed)
    moment = now()
    until = moment + timedelta(hours=ctx.settings.rotation_overlap_hours)
    await repository.rotate_secret(
        conn, endpoint_id, kid=kid, sealed=sealed, previous_expires_at=until, now=moment
    )
    return secret, until


async def send_test(conn: asyncpg.Connection, ctx: Context, endpoint_id: uuid.UUID) -> uuid.UUID:
    await get(conn, endpoint_id)
    message_id = uuid.uuid4()
    moment = now()
    await repository.insert_message(
        conn,
        message_id=message_id,
        event_type=domain.TEST_EVENT,
        payload={
            "type": domain.TEST_EVENT,
            "timestamp": moment.astimezone(UTC).isoformat(),
            "data": {"endpoint_id": str(endpoint_id), "message": "Message de test PRISME"},
        },
        occurred_at=moment,
        now=moment,
    )
    await repository.insert_destinations(conn, message_id, [endpoint_id], moment)
    await enqueue_delivery(conn, ctx, message_id, [endpoint_id], "test")
    return message_id


async def resend(
    conn: asyncpg.Connection, ctx: Context, message_id: uuid.UUID, endpoint_id: uuid.UUID | None
) -> int:
    if not await repository.message_exists(conn, message_id):
        raise NotFound(f"no message {message_id}")
    targets = await repository.destinations_of(conn, message_id, endpoint_id)
    if not targets:
        raise NotFound(f"message {message_id} was not sent to that endpoint")
    for target in targets:
        await repository.reopen_destination(conn, message_id, target, now())
    await enqueue_delivery(conn, ctx, message_id, targets, "resend")
    return len(targets)


async def recover(
    conn: asyncpg.Connection, ctx: Context, endpoint_id: uuid.UUID, since: datetime
) -> int:
    """Re-send every message that failed for this endpoint since ``since``."""
    await get(conn, endpoint_id)
    failed = await repository.failed_since(conn, endpoint_id, since)
    for message_id in failed:
        await repository.reopen_destination(conn, message_id, endpoint_id, now())
        await enqueue_delivery(conn, ctx, message_id, [endpoint_id], "recover")
    return len(failed)
