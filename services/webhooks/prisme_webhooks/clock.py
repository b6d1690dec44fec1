"""The service's "now" is the platform clock (prisme_chassis.clock): `prisme clock travel`
moves it, and tests move it in-process."""

from __future__ import annotations

from prisme_chassis.clock import CLOCK, now

__all__ = ["CLOCK", "now"]
