"""Pure rules of video-svc: link status and expiry (V3), password throttling (V4), HTTP ranges,
contract state from out-of-order events, retention. No I/O."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

LinkStatus = Literal["active", "expired", "revoked"]
ContractStatus = Literal["active", "ended"]


def link_status(*, revoked_at: datetime | None, expires_at: datetime, now: datetime) -> LinkStatus:
    """V3: revoked wins over expired; a link is dead from ``expires_at`` on."""
    if revoked_at is not None:
        return "revoked"
    if now >= expires_at:
        return "expired"
    return "active"


# --- contracts, as video-svc knows them from contract.* events ------------------------------


@dataclass(frozen=True)
class ContractState:
    contract_id: uuid.UUID
    client_id: uuid.UUID
    version: int
    status: ContractStatus
    ends_at: datetime | None
    ended_at: datetime | None


def can_share(contract: ContractState | None, client_id: uuid.UUID, now: datetime) -> str | None:
    """Why no link may be created for this video's contract (V2/V3), or ``None`` if it may."""
    if contract is None:
        return "aucun contrat actif connu pour cette vidéo"
    if contract.client_id != client_id:
        return "le contrat n'appartient pas au client de la vidéo"
    if contract.status != "active" or contract.ends_at is None:
        return "le contrat n'est pas actif"
    if now >= contract.ends_at:
        return "l'engagement du contrat est terminé"
    return None


# --- V4: password guessing ------------------------------------------------------------------


@dataclass(frozen=True)
class ThrottlePolicy:
    max_failures: int = 10
    window: timedelta = timedelta(minutes=30)
    free_failures: int = 2
    base_delay: timedelta = timedelta(seconds=1)
    max_delay: timedelta = timedelta(seconds=60)

    def delay_after(self, failures: int) -> timedelta:
        """Wait imposed after ``failures`` recent failures: none for the first typos, then x2."""
        if failures <= self.free_failures:
            return timedelta(0)
        delay: timedelta = self.base_delay * 2 ** (failures - self.free_failures - 1)
        return min(delay, self.max_delay)


@dataclass(frozen=True)
class FailureStats:
    """Failed attempts inside the policy window, for one link or one address."""

    count: int
    oldest: datetime | None
    latest: datetime | None


@dataclass(frozen=True)
class ThrottleDecision:
    allowed: bool
    locked: bool
    retry_after: timedelta


def throttle(policy: ThrottlePolicy, stats: list[FailureStats], now: datetime) -> ThrottleDecision:
    """May a password attempt be checked now? Locked after ``max_failures`` in the window (per
    link and per address, the worse of both), otherwise a growing delay after each failure."""
    worst = timedelta(0)
    for s in stats:
        if s.count >= policy.max_failures and s.oldest is not None:
            # The lock lifts when enough failures age out of the window.
            return ThrottleDecision(False, True, max(s.oldest + policy.window - now, timedelta(0)))
        if s.latest is not None:
            worst = max(worst, s.latest + policy.delay_after(s.count) - now)
    if worst > timedelta(0):
        return ThrottleDecision(False, False, worst)
    return ThrottleDecision(True, False, timedelta(0))


# --- HTTP Range (RFC 9110 §14) ---------------------------------------------------------------


class RangeNotSatisfiableError(Exception):
    pass


_RANGE = re.compile(r"^\s*bytes\s*=\s*([0-9]*)\s*-\s*([0-9]*)\s*$", re.IGNORECASE | re.ASCII)
#: Past this many digits a position is beyond any file; int() of thousands of digits raises
#: (Python's limit on integer strings), so such numbers are never converted.
_MAX_DIGITS = 18


def _position(digits: str) -> int:
    return int(digits) if len(digits) <= _MAX_DIGITS else 10**_MAX_DIGITS


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive byte range asked for, or ``None`` to send the whole body.

    Only one range is served; multi-range and malformed headers are ignored, as RFC 9110 allows.
    """
    if header is None:
        return None
    match = _RANGE.match(header)
    if match is None:
        return None
    first, last = match.group(1), match.group(2)
    if not first and not last:
        return None
    if not first:
        suffix = _position(last)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiableError
        return max(size - suffix, 0), size - 1
    start = _position(first)
    end = _position(last) if last else size - 1
    if last and end < start:
        return None
    if start >= size:
        raise RangeNotSatisfiableError
    return start, min(end, size - 1)


# --- retention --------------------------------------------------------------------------------


def purge_after(contract_ended_at: datetime, retention_days: int) -> datetime:
    """V1: recordings are kept no longer than needed: ``retention_days`` after the contract ends."""
    return contract_ended_at + timedelta(days=retention_days)
