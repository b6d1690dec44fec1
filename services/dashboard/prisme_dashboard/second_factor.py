"""TOTP enrolment and removal (DESIGN §7), each after re-authentication.

Enrolment: the current password, then a new seed (sealed in the operator's row, not active
yet) shown as a QR code; the first valid code activates it and yields ten recovery codes,
shown once and stored hashed.  Removal: the current password and a current code.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg
from prisme_chassis import audit
from prisme_chassis.audit import Actor
from prisme_chassis.sealing import Keyring

from . import passwords, totp
from . import repository as repo
from .errors import AccountChangeRefused, OperatorNotFound


@dataclass(frozen=True)
class State:
    enabled: bool
    #: a seed waiting for its first code: its QR code and the text to type by hand
    pending_qr: str | None
    pending_secret: str | None
    recovery_left: int


async def _operator(conn: asyncpg.Connection, operator_id: uuid.UUID) -> asyncpg.Record:
    row = await repo.get_operator(conn, operator_id, lock=True)
    if row is None:
        raise OperatorNotFound(f"aucun opérateur {operator_id}")
    return row


def _seed(row: asyncpg.Record, keyring: Keyring) -> str | None:
    sealed = row["totp_seed_sealed"]
    if sealed is None:
        return None
    return keyring.open_text(bytes(sealed), str(row["id"]))


async def state(conn: asyncpg.Connection, operator_id: uuid.UUID, keyring: Keyring) -> State:
    row = await _operator(conn, operator_id)
    enabled = row["totp_enabled_at"] is not None
    seed = None if enabled else _seed(row, keyring)
    return State(
        enabled=enabled,
        pending_qr=totp.qr_svg(totp.provisioning_uri(seed, row["email"])) if seed else None,
        pending_secret=seed,
        recovery_left=await repo.count_recovery_codes(conn, operator_id) if enabled else 0,
    )


def _reauthenticate(row: asyncpg.Record, password: str) -> None:
    if not passwords.verify_password(row["password_hash"], password):
        raise AccountChangeRefused(
            "Le mot de passe actuel est incorrect.", field="current_password"
        )


async def start(
    conn: asyncpg.Connection,
    operator_id: uuid.UUID,
    *,
    password: str,
    keyring: Keyring,
    actor: Actor,
) -> None:
    row = await _operator(conn, operator_id)
    if row["totp_enabled_at"] is not None:
        raise AccountChangeRefused("La double authentification est déjà activée.")
    _reauthenticate(row, password)
    sealed = keyring.seal_text(totp.new_seed(), str(operator_id))
    await repo.update_operator(conn, operator_id, totp_seed_sealed=sealed, totp_last_step=None)
    await audit.record(
        conn,
        actor,
        "second_factor.enrolment_started",
        target_type="operator",
        target_id=operator_id,
    )


async def confirm(
    conn: asyncpg.Connection,
    operator_id: uuid.UUID,
    *,
    code: str,
    keyring: Keyring,
    actor: Actor,
    now: datetime,
) -> list[str]:
    """Activate the pending seed with its first code; the recovery codes, shown once."""
    row = await _operator(conn, operator_id)
    seed = _seed(row, keyring)
    if row["totp_enabled_at"] is not None or seed is None:
        raise AccountChangeRefused("Aucune activation en cours.")
    step = totp.verify(seed, code, now, None)
    if step is None:
        raise AccountChangeRefused("Code incorrect : vérifiez l'heure de votre téléphone.")
    await repo.update_operator(conn, operator_id, totp_enabled_at=now, totp_last_step=step)
    codes = totp.new_recovery_codes()
    await repo.replace_recovery_codes(conn, operator_id, [totp.recovery_hash(c) for c in codes])
    await audit.record(
        conn, actor, "second_factor.enabled", target_type="operator", target_id=operator_id
    )
    return codes


async def remove(
    conn: asyncpg.Connection,
    operator_id: uuid.UUID,
    *,
    password: str,
    code: str,
    keyring: Keyring,
    actor: Actor,
    now: datetime,
) -> None:
    row = await _operator(conn, operator_id)
    seed = _seed(row, keyring)
    if row["totp_enabled_at"] is None or seed is None:
        raise AccountChangeRefused("La double authentification n'est pas activée.")
    _reauthenticate(row, password)
    step = totp.verify(seed, code, now, row["totp_last_step"])
    if step is None:
        raise AccountChangeRefused("Code incorrect ou déjà utilisé.", field="code")
    await repo.update_operator(
        conn, operator_id, totp_seed_sealed=None, totp_enabled_at=None, totp_last_step=None
    )
    await repo.replace_recovery_codes(conn, operator_id, [])
    await audit.record(
        conn, actor, "second_factor.removed", target_type="operator", target_id=operator_id
    )
