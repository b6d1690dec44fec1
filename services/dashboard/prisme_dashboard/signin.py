"""Signing in (DESIGN §7): the password step, the second-factor step, the throttle.

The edge (web/signin_pages.py) owns the transaction and the cookie; these use cases decide.
Failures are recorded per address and per account and audited; a success clears the
account's count.  Nothing here sees a password after checking it.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg
from prisme_chassis import audit
from prisme_chassis.audit import Actor
from prisme_chassis.errors import TooManyRequests
from prisme_chassis.sealing import Keyring

from . import passwords, sessions, throttle, totp
from . import repository as repo


class SignInRefused(Exception):
    """Wrong e-mail, password or code (the message never says which)."""


@dataclass(frozen=True)
class Attempt:
    address: str | None
    user_agent: str | None
    request_id: str | None = None


@dataclass(frozen=True)
class Outcome:
    token: str
    session: sessions.Session
    needs_second_factor: bool


async def _check_throttle(
    conn: asyncpg.Connection, policy: throttle.Policy, keys: list[str], now: datetime
) -> None:
    records = [(r["failures"], r["last_failure_at"]) for r in await repo.failures(conn, keys)]
    wait = throttle.wait_needed(policy, records, now)
    if wait.total_seconds() > 0:
        raise TooManyRequests(
            "Trop de tentatives de connexion. Réessayez dans quelques instants.",
            retry_after=wait.total_seconds(),
        )


async def _fail(
    conn: asyncpg.Connection,
    keys: list[str],
    attempt: Attempt,
    now: datetime,
    *,
    email: str,
    operator_id: uuid.UUID | None,
    step: str,
) -> None:
    await repo.record_failure(conn, keys, now)
    await audit.record(
        conn,
        Actor(sub="anonymous", address=attempt.address, request_id=attempt.request_id),
        "sign_in.failed",
        target_type="operator" if operator_id else None,
        target_id=operator_id,
        detail={"email": email, "step": step},
    )
    # a little slower with each failure: the throttle's delay is the real brake
    count = max((r["failures"] for r in await repo.failures(conn, keys)), default=1)
    await asyncio.sleep(min(1.0, 0.1 * count))


async def password_step(
    conn: asyncpg.Connection,
    *,
    email: str,
    password: str,
    attempt: Attempt,
    throttle_policy: throttle.Policy,
    session_policy: sessions.Policy,
    now: datetime,
) -> Outcome:
    """Check e-mail and password; open the session (or the second-factor step)."""
    address = email.strip().lower()
    keys = throttle.keys(attempt.address, address)
    await _check_throttle(conn, throttle_policy, keys, now)
    row = await repo.find_operator_by_email(conn, address)
    usable = row is not None and row["status"] == "active"
    stored = row["password_hash"] if row is not None and usable else None
    if not passwords.verify_password(stored, password) or row is None:
        await _fail(
            conn,
            keys,
            attempt,
            now,
            email=address,
            operator_id=row["id"] if row is not None else None,
            step="password",
        )
        raise SignInRefused
    assert stored is not None
    await repo.clear_failures(conn, keys[:1])
    if passwords.needs_rehash(stored):
        await repo.update_operator(conn, row["id"], password_hash=passwords.hash_password(password))
    second = row["totp_enabled_at"] is not None
    token, session = await sessions.open_session(
        conn,
        row["id"],
        stage="second_factor" if second else "active",
        policy=session_policy,
        now=now,
        address=attempt.address,
        user_agent=attempt.user_agent,
    )
    if not second:
        await _signed_in(conn, row, session, attempt, method="password")
    return Outcome(token=token, session=session, needs_second_factor=second)


async def second_factor_step(
    conn: asyncpg.Connection,
    pending: sessions.Session,
    *,
    code: str,
    attempt: Attempt,
    keyring: Keyring,
    throttle_policy: throttle.Policy,
    session_policy: sessions.Policy,
    now: datetime,
) -> Outcome:
    """A TOTP code or a recovery code; the pending session is replaced by a new one."""
    row = await repo.get_operator(conn, pending.operator_id, lock=True)
    assert row is not None
    keys = throttle.keys(attempt.address, row["email"])
    await _check_throttle(conn, throttle_policy, keys, now)
    method = None
    if row["totp_seed_sealed"] is not None:
        seed = keyring.open_text(bytes(row["totp_seed_sealed"]), str(row["id"]))
        step = totp.verify(seed, code, now, row["totp_last_step"])
        if step is not None:
            await repo.update_operator(conn, row["id"], totp_last_step=step)
            method = "totp"
    if (
        method is None
        and totp.looks_like_recovery_code(code)
        and await repo.use_recovery_code(conn, row["id"], totp.recovery_hash(code), now)
    ):
        method = "recovery_code"
    if method is None:
        await _fail(
            conn,
            keys,
            attempt,
            now,
            email=row["email"],
            operator_id=row["id"],
            step="second_factor",
        )
        raise SignInRefused
    await repo.clear_failures(conn, keys[:1])
    await repo.end_session(conn, pending.id, now, "second_factor_done")
    token, session = await sessions.open_session(
        conn,
        row["id"],
        stage="active",
        policy=session_policy,
        now=now,
        address=attempt.address,
        user_agent=attempt.user_agent,
    )
    await _signed_in(conn, row, session, attempt, method=method)
    return Outcome(token=token, session=session, needs_second_factor=False)


async def _signed_in(
    conn: asyncpg.Connection,
    row: asyncpg.Record,
    session: sessions.Session,
    attempt: Attempt,
    *,
    method: str,
) -> None:
    await audit.record(
        conn,
        Actor(
            sub=str(row["id"]),
            name=row["name"],
            address=attempt.address,
            request_id=attempt.request_id,
        ),
        "sign_in.succeeded",
        target_type="session",
        target_id=session.id,
        detail={"method": method},
    )
