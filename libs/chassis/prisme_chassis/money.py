"""Money: ``Decimal`` only, rounded half-up to cents, serialised as two-decimal strings."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def round_half_up(amount: Decimal, places: Decimal = CENT) -> Decimal:
    """Round to cents, half away from zero (the commercial rule, not banker's rounding)."""
    if not isinstance(amount, Decimal):
        raise TypeError(f"money must be Decimal, not {type(amount).__name__}")
    return amount.quantize(places, rounding=ROUND_HALF_UP)


def money_str(amount: Decimal) -> str:
    """``Decimal('3340.8')`` → ``"3340.80"``."""
    return f"{round_half_up(amount):.2f}"
