"""Operators' use cases (O1): create, list, disable, reset and change a password.

Every change is audited in the same transaction; a password, initial or chosen, never reaches
the audit trail, a log or a table in clear (only its Argon2id hash is stored).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg
from prisme_chassis import audit
from prisme_chassis.audit import Actor

from . import passwords, roles
from . import repository as repo
from .errors import InvalidOperator, OperatorExists, OperatorNotFound, WeakPassword

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class Operator:
    id: uuid.UUID
    email: str
    name: str
    roles: tuple[str, ...]
    status: str
    must_change_password: bool
    totp_enabled: bool
    created_at: datetime

    @property
    def scopes(self) -> list[str]:
        return roles.scopes_for(self.roles)

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> Operator:
        return cls(
            id=row["id"],
            email=row["email"],
            name=row["name"],
            roles=tuple(row["roles"]),
            status=row["status"],
            must_change_password=row["must_change_password"],
            totp_enabled=row["totp_enabled_at"] is not None,
            created_at=row["created_at"],
        )


def normalise_email(email: str) -> str:
    value = email.strip().lower()
    if not _EMAIL.match(value) or len(value) > 254:
        raise InvalidOperator(f"adresse e-mail invalide : {email!r}", field="email")
    return value


def check_roles(wanted: Sequence[str]) -> list[str]:
    chosen = sorted({role.strip() for role in wanted if role.strip()})
    unknown = [role for role in chosen if not roles.is_role(role)]
    if unknown or not chosen:
        raise InvalidOperator(
            "rôle inconnu ou absent (admin, technician, accountant)",
            field="roles",
            unknown=unknown,
        )
    return chosen


async def create(
    conn: asyncpg.Connection,
    *,
    email: str,
    role_names: Sequence[str],
    name: str | None,
    actor: Actor,
) -> tuple[Operator, str]:
    """A new operator and its one-time initial password (changed at first sign-in)."""
    address = normalise_email(email)
    chosen = check_roles(role_names)
    display = (name or "").strip() or address.split("@", 1)[0]
    if len(display) > 200:
        raise InvalidOperator("nom trop long (200 caractères au plus)", field="name")
    initial = passwords.generate_initial_password()
    try:
        row = await repo.insert_operator(
            conn,
            operator_id=uuid.uuid4(),
            email=address,
            name=display,
            roles=chosen,
            password_hash=passwords.hash_password(initial),
            must_change_password=True,
        )
    except asyncpg.UniqueViolationError as exc:
        raise OperatorExists(f"un opérateur existe déjà pour {address}") from exc
    operator = Operator.from_row(row)
    await audit.record(
        conn,
        actor,
        "operator.created",
        target_type="operator",
        target_id=operator.id,
        detail={"email": address, "roles": ",".join(chosen)},
    )
    return operator, initial


async def list_all(conn: asyncpg.Connection) -> list[Operator]:
    return [Operator.from_row(row) for row in await repo.list_operators(conn)]


async def find(conn: asyncpg.Connection, email_or_id: str) -> Operator:
    """By e-mail or by id."""
    row = None
    try:
        row = await repo.get_operator(conn, uuid.UUID(email_or_id))
    except ValueError:
        row = await repo.find_operator_by_email(conn, email_or_id.strip().lower())
    if row is None:
        raise OperatorNotFound(f"aucun opérateur {email_or_id!r}")
    return Operator.from_row(row)


async def get(conn: asyncpg.Connection, operator_id: uuid.UUID) -> Operator:
    row = await repo.get_operator(conn, operator_id)
    if row is None:
        raise OperatorNotFound(f"aucun opérateur {operator_id}")
    return Operator.from_row(row)


async def disable(
    conn: asyncpg.Connection, operator_id: uuid.UUID, *, actor: Actor, now: datetime
) -> Operator:
    """Disable the operator and end every open session at once (DESIGN §7)."""
    await get(conn, operator_id)  # an unknown operator: OperatorNotFound (404), not a crash
    row = await repo.update_operator(conn, operator_id, status="disabled")
    ended = await repo.end_operator_sessions(conn, operator_id, now, "operator_disabled")
    await audit.record(
        conn, actor, "operator.disabled", target_type="operator", target_id=operator_id
    )
    for session_id in ended:
        await audit.record(
            conn,
            actor,
            "session.ended",
            target_type="session",
            target_id=session_id,
            detail={"operator_id": operator_id, "why": "operator_disabled"},
        )
    return Operator.from_row(row)


async def enable(conn: asyncpg.Connection, operator_id: uuid.UUID, *, actor: Actor) -> Operator:
    await get(conn, operator_id)
    row = await repo.update_operator(conn, operator_id, status="active")
    await audit.record(
        conn, actor, "operator.enabled", target_type="operator", target_id=operator_id
    )
    return Operator.from_row(row)


async def set_roles(
    conn: asyncpg.Connection, operator_id: uuid.UUID, role_names: Sequence[str], *, actor: Actor
) -> Operator:
    """New roles (O1); the scopes of the operator's next tokens follow (at most 5 minutes)."""
    chosen = check_roles(role_names)
    before = await get(conn, operator_id)
    row = await repo.update_operator(conn, operator_id, roles=chosen)
    await audit.record(
        conn,
        actor,
        "operator.roles_changed",
        target_type="operator",
        target_id=operator_id,
        before={"roles": list(before.roles)},
        after={"roles": chosen},
    )
    return Operator.from_row(row)


async def reset_password(
    conn: asyncpg.Connection, operator_id: uuid.UUID, *, actor: Actor, now: datetime
) -> tuple[Operator, str]:
    """A new one-time password (to change at next sign-in); open sessions end."""
    await get(conn, operator_id)
    initial = passwords.generate_initial_password()
    row = await repo.update_operator(
        conn,
        operator_id,
        password_hash=passwords.hash_password(initial),
        must_change_password=True,
    )
    ended = await repo.end_operator_sessions(conn, operator_id, now, "password_reset")
    await audit.record(
        conn,
        actor,
        "operator.password_reset",
        target_type="operator",
        target_id=operator_id,
        detail={"sessions_ended": len(ended)},
    )
    return Operator.from_row(row), initial


async def change_password(
    conn: asyncpg.Connection,
    operator_id: uuid.UUID,
    *,
    current: str,
    new: str,
    keep_session: uuid.UUID | None,
    actor: Actor,
    now: datetime,
) -> Operator:
    """The operator's own change: the current password first; other sessions end."""
    row = await repo.get_operator(conn, operator_id, lock=True)
    if row is None:
        raise OperatorNotFound(f"aucun opérateur {operator_id}")
    if not passwords.verify_password(row["password_hash"], current):
        raise WeakPassword("Le mot de passe actuel est incorrect.", field="current_password")
    problems = passwords.policy_problems(new, email=row["email"])
    if new == current:
        problems.append("Le nouveau mot de passe doit différer de l'actuel.")
    if problems:
        raise WeakPassword(" ".join(problems), field="new_password", problems=problems)
    updated = await repo.update_operator(
        conn, operator_id, password_hash=passwords.hash_password(new), must_change_password=False
    )
    ended = await repo.end_operator_sessions(
        conn, operator_id, now, "password_changed", keep=keep_session
    )
    await audit.record(
        conn,
        actor,
        "operator.password_changed",
        target_type="operator",
        target_id=operator_id,
        detail={"sessions_ended": len(ended)},
    )
    return Operator.from_row(updated)


async def bootstrap_admin(
    conn: asyncpg.Connection, *, email: str, name: str
) -> tuple[Operator, str] | None:
    """The first admin of an empty operators table (``prisme up``'s first run), else None."""
    await conn.execute("LOCK TABLE operators IN EXCLUSIVE MODE")
    if await repo.count_operators(conn) > 0:
        return None
    return await create(
        conn, email=email, role_names=["admin"], name=name, actor=Actor.system("dashboard")
    )
