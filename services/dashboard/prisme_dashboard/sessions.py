"""Server-side sessions (DESIGN §7): an opaque 256-bit token, only its SHA-256 stored.

A session is opened at each sign-in (never reused: no fixation), lives at most ``absolute``
and dies after ``idle`` without a request; it ends at sign-out, password change, when the
operator is disabled, or when the operator (or an admin) ends it from the sessions page.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg
from prisme_chassis import audit
from prisme_chassis.audit import Actor

from . import repository as repo

#: between the password and the TOTP code
SECOND_FACTOR_WINDOW = timedelta(minutes=5)
#: ``last_seen_at`` is written at most this often (reads stay reads)
TOUCH_EVERY = timedelta(seconds=30)


@dataclass(frozen=True)
class Policy:
    idle: timedelta = timedelta(minutes=30)
    absolute: timedelta = timedelta(hours=12)


@dataclass(frozen=True)
class Session:
    id: uuid.UUID
    operator_id: uuid.UUID
    stage: str
    csrf_token: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime


def new_token() -> str:
    """256 bits from the CSPRNG, URL-safe."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode("ascii", "replace")).digest()


async def open_session(
    conn: asyncpg.Connection,
    operator_id: uuid.UUID,
    *,
    stage: str,
    policy: Policy,
    now: datetime,
    address: str | None,
    user_agent: str | None,
) -> tuple[str, Session]:
    token = new_token()
    lifetime = SECOND_FACTOR_WINDOW if stage == "second_factor" else policy.absolute
    row = await repo.insert_session(
        conn,
        id=uuid.uuid4(),
        token_hash=token_hash(token),
        operator_id=operator_id,
        stage=stage,
        csrf_token=secrets.token_urlsafe(32),
        address=address,
        user_agent=(user_agent or "")[:300] or None,
        created_at=now,
        last_seen_at=now,
        expires_at=now + lifetime,
    )
    return token, _session(row)


def _session(row: asyncpg.Record) -> Session:
    return Session(
        id=row["id"],
        operator_id=row["operator_id"],
        stage=row["stage"],
        csrf_token=row["csrf_token"],
        created_at=row["created_at"],
        last_seen_at=row["last_seen_at"],
        expires_at=row["expires_at"],
    )


async def resolve(
    conn: asyncpg.Connection, token: str, *, policy: Policy, now: datetime, touch: bool = True
) -> Session | None:
    """The live session of ``token``, or None; a session found dead is ended here.

    ``touch=False`` checks without counting as activity (a live page re-checking its session
    must not keep an idle operator signed in)."""
    row = await repo.session_by_token_hash(conn, token_hash(token))
    if row is None or row["ended_at"] is not None:
        return None
    reason = None
    if row["operator_status"] != "active":
        reason = "operator_disabled"
    elif now >= row["expires_at"]:
        reason = "expired"
    elif now - row["last_seen_at"] >= policy.idle:
        reason = "idle"
    if reason is not None:
        if await repo.end_session(conn, row["id"], now, reason):
            await audit.record(
                conn,
                Actor.system("dashboard"),
                "session.ended",
                target_type="session",
                target_id=row["id"],
                detail={"operator_id": row["operator_id"], "why": reason},
            )
        return None
    if touch and now - row["last_seen_at"] >= TOUCH_EVERY:
        await repo.touch_session(conn, row["id"], now)
    return _session(row)


async def end(
    conn: asyncpg.Connection, session_id: uuid.UUID, *, reason: str, actor: Actor, now: datetime
) -> bool:
    row = await repo.get_session(conn, session_id)
    ended = await repo.end_session(conn, session_id, now, reason)
    if ended and row is not None:
        await audit.record(
            conn,
            actor,
            "session.ended",
            target_type="session",
            target_id=session_id,
            detail={"operator_id": row["operator_id"], "why": reason},
        )
    return ended


async def end_all(
    conn: asyncpg.Connection,
    operator_id: uuid.UUID,
    *,
    reason: str,
    actor: Actor,
    now: datetime,
) -> int:
    ended = await repo.end_operator_sessions(conn, operator_id, now, reason)
    for session_id in ended:
        await audit.record(
            conn,
            actor,
            "session.ended",
            target_type="session",
            target_id=session_id,
            detail={"operator_id": operator_id, "why": reason},
        )
    return len(ended)
