"""Pure rules of video-svc: link status and expiry (V3), password throttling (V4), HTTP ranges,
contract state from out-of-order events, retention. No I/O."""

from __future__ import annotations

import ipaddress
import re
import uuid
from collections.abc import Sequence
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
    year: int | None = None  # C2; every contract.* event carries it


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
    """V4 and DESIGN §7: a growing delay, never a lock an attacker could put on a link.

    Per client address (across links): the first ``free_failures`` typos are free, then the
    wait doubles from ``base_delay`` up to ``max_delay``. Per link (every address together, a
    guessing spread over many addresses): free up to ``link_free_failures``, then the same
    doubling capped at ``link_max_delay``, so whoever holds a URL can slow it for others by at
    most that much, never shut it.
    """

    window: timedelta = timedelta(minutes=30)
    free_failures: int = 2
    base_delay: timedelta = timedelta(seconds=1)
    max_delay: timedelta = timedelta(minutes=15)
    link_free_failures: int = 10
    link_max_delay: timedelta = timedelta(seconds=30)

    def delay_after(self, failures: int) -> timedelta:
        """Wait imposed on an address after ``failures`` recent failures of its own."""
        return _doubling(failures, self.free_failures, self.base_delay, self.max_delay)

    def link_delay_after(self, failures: int) -> timedelta:
        """Wait imposed on every visitor of a link after ``failures`` recent failures on it."""
        return _doubling(failures, self.link_free_failures, self.base_delay, self.link_max_delay)


def _doubling(failures: int, free: int, base: timedelta, cap: timedelta) -> timedelta:
    if failures <= free:
        return timedelta(0)
    # 2**k for k past ~40 is already beyond any cap: bound the exponent, not the product
    delay: timedelta = base * 2 ** min(failures - free - 1, 40)
    return min(delay, cap)


@dataclass(frozen=True)
class FailureStats:
    """Failed attempts inside the policy window, for one link or one address."""

    count: int
    latest: datetime | None


@dataclass(frozen=True)
class ThrottleDecision:
    allowed: bool
    retry_after: timedelta


def throttle(
    policy: ThrottlePolicy, link: FailureStats, address: FailureStats, now: datetime
) -> ThrottleDecision:
    """May a password attempt be checked now? Not before both delays since the last failure
    (the link's and the address's) have run out."""
    wait = timedelta(0)
    if link.latest is not None:
        wait = max(wait, link.latest + policy.link_delay_after(link.count) - now)
    if address.latest is not None:
        wait = max(wait, address.latest + policy.delay_after(address.count) - now)
    if wait > timedelta(0):
        return ThrottleDecision(False, wait)
    return ThrottleDecision(True, timedelta(0))


TrustedProxies = Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network]


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def client_address(peer: str | None, forwarded_for: str | None, trusted: TrustedProxies) -> str:
    """The visitor's address: the TCP peer, unless the peer is a trusted proxy; then the
    ``X-Forwarded-For`` chain is read from the right, each trusted hop skipped, and the first
    address no trusted proxy vouches for is the client. A client cannot forge its address by
    sending the header itself: an untrusted peer's header is ignored, and entries left of the
    first untrusted hop are never read."""
    current = _ip(peer) if peer else None
    if current is None:
        return peer or "unknown"
    if not forwarded_for or not any(current in net for net in trusted):
        return str(current)
    for hop in reversed(forwarded_for.split(",")):
        address = _ip(hop)
        if address is None:
            break  # a garbled entry: what is left of it cannot be trusted
        current = address
        if not any(address in net for net in trusted):
            break
    return str(current)


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
