"""Sign-in throttling (DESIGN §7): a growing delay per address and per account, never a lock.

Pure rules: after ``free`` failures, each further attempt must wait
``base × 2^(failures − free)`` seconds (capped) after the last failure; an attempt sooner is
answered 429 with ``Retry-After``.  A success clears the account's count; time clears both.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Policy:
    free: int = 5
    base_seconds: float = 2.0
    max_seconds: float = 900.0

    def delay(self, failures: int) -> timedelta:
        """How long after the last failure the next attempt is accepted."""
        if failures < self.free:
            return timedelta(0)
        seconds = min(self.max_seconds, self.base_seconds * 2 ** (failures - self.free))
        return timedelta(seconds=seconds)


def keys(address: str | None, email: str) -> list[str]:
    """The throttle keys of one attempt: its address and the account it names."""
    found = [f"account:{email.strip().lower()}"]
    if address:
        found.append(f"address:{address}")
    return found


def wait_needed(
    policy: Policy, records: Iterable[tuple[int, datetime]], now: datetime
) -> timedelta:
    """The longest wait any key still imposes at ``now`` (zero: the attempt may go on)."""
    wait = timedelta(0)
    for failures, last_failure_at in records:
        remaining = last_failure_at + policy.delay(failures) - now
        wait = max(wait, remaining)
    return wait
