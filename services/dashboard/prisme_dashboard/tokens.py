"""Integration tokens (DESIGN §7): named, scoped, expiring, shown once, revocable.

The token is a platform JWT (``sub`` = ``integration:<id>``, ``name`` = its name, ``jti`` =
its id) that every service verifies by itself; the dashboard keeps only the row.  Revoking
publishes the id to the revocation bucket *before* the row's commit: a failure to publish
leaves the row unrevoked (the admin retries), never a revoked row whose token still works.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

import asyncpg
from nats.js import JetStreamContext
from prisme_chassis import audit, revocations
from prisme_chassis.audit import Actor
from prisme_chassis.errors import Conflict, Unprocessable

from . import repository as repo
from .issuer import Issuer
from .roles import ALL_SCOPES

MAX_DAYS = 365


class InvalidToken(Unprocessable):
    code = "invalid-integration-token"
    title = "Jeton d'intégration invalide"


class TokenNameTaken(Conflict):
    code = "integration-token-name-taken"
    title = "Un jeton actif porte déjà ce nom"


async def create(
    conn: asyncpg.Connection,
    issuer: Issuer,
    *,
    name: str,
    scopes: Sequence[str],
    days: int,
    created_by: uuid.UUID,
    actor: Actor,
    now: datetime,
) -> tuple[asyncpg.Record, str]:
    """The row and the token, which is shown once and stored nowhere."""
    label = name.strip()
    chosen = sorted(set(scopes))
    if not label or len(label) > 100:
        raise InvalidToken("Donnez un nom de 1 à 100 caractères.", field="name")
    unknown = [s for s in chosen if s not in ALL_SCOPES]
    if not chosen or unknown:
        raise InvalidToken("Choisissez au moins un droit connu.", field="scopes", unknown=unknown)
    if not 1 <= days <= MAX_DAYS:
        raise InvalidToken(f"La durée va de 1 à {MAX_DAYS} jours.", field="days")
    token_id = uuid.uuid4()
    expires_at = now + timedelta(days=days)
    try:
        row = await repo.insert_token(
            conn,
            id=token_id,
            name=label,
            scopes=chosen,
            created_by=created_by,
            created_at=now,
            expires_at=expires_at,
        )
    except asyncpg.UniqueViolationError as exc:
        raise TokenNameTaken(f"un jeton actif s'appelle déjà {label!r}", field="name") from exc
    token = issuer.for_integration(
        token_id=str(token_id), name=label, scopes=chosen, expires_at=expires_at, now=now
    )
    await audit.record(
        conn,
        actor,
        "integration_token.created",
        target_type="integration_token",
        target_id=token_id,
        detail={"name": label, "scopes": " ".join(chosen), "expires_at": expires_at.isoformat()},
    )
    return row, token


async def revoke(
    conn: asyncpg.Connection,
    js: JetStreamContext,
    token_id: uuid.UUID,
    *,
    by: uuid.UUID,
    actor: Actor,
    now: datetime,
) -> bool:
    row = await repo.revoke_token(conn, token_id, by, now)
    if row is None:
        return False
    await revocations.revoke(js, str(token_id), row["expires_at"].timestamp())
    await audit.record(
        conn,
        actor,
        "integration_token.revoked",
        target_type="integration_token",
        target_id=token_id,
        detail={"name": row["name"]},
    )
    return True


async def republish(conn: asyncpg.Connection, js: JetStreamContext, now: datetime) -> int:
    """Every revoked, unexpired token back on the bus (at start-up: a lost bucket forgets
    nothing for long)."""
    rows = await repo.revoked_live_tokens(conn, now)
    for row in rows:
        await revocations.revoke(js, str(row["id"]), row["expires_at"].timestamp())
    return len(rows)
