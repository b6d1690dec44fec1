"""Money: ``Decimal`` only, rounded half-up to cents.

Two spellings of an amount, and only two:

- the API's (DESIGN §4): a decimal string with two places, ``"3340.80"`` (``money_str``);
- what a practice reads (invoices, e-mails, pages): French, with a no-break space between
  thousands and before the euro sign and a decimal comma, ``3 340,80 €`` (``eur_fr``).

A ``float`` is refused everywhere (``TypeError``): binary floating point cannot hold 0.10.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
#: French typography groups thousands with a no-break space and puts one before the currency
#: sign (U+00A0 rather than the narrow U+202F: the PDF fonts have no glyph for the latter).
THOUSANDS_SEP = "\u00a0"
CURRENCY_SEP = "\u00a0"


def _decimal(amount: Decimal) -> Decimal:
    if not isinstance(amount, Decimal):
        raise TypeError(f"money must be Decimal, not {type(amount).__name__}")
    if not amount.is_finite():
        raise ValueError(f"money must be a finite amount, not {amount}")
    return amount


def round_half_up(amount: Decimal, places: Decimal = CENT) -> Decimal:
    """Round to cents, half away from zero (the commercial rule, not banker's rounding)."""
    return _decimal(amount).quantize(places, rounding=ROUND_HALF_UP)


def money_str(amount: Decimal) -> str:
    """The API's spelling: ``Decimal('3340.8')`` → ``"3340.80"``."""
    return f"{round_half_up(amount):.2f}"


def eur_fr(amount: Decimal) -> str:
    """What a practice reads: ``Decimal('3340.8')`` → ``"3 340,80 €"``; ``-12.5`` → ``"-12,50 €"``."""
    rounded = round_half_up(amount)
    sign = "-" if rounded < 0 else ""
    whole, cents = f"{abs(rounded):.2f}".split(".")
    grouped = f"{int(whole):,}".replace(",", THOUSANDS_SEP)
    return f"{sign}{grouped},{cents}{CURRENCY_SEP}€"


def parse_money(text: str) -> Decimal:
    """``"3340.80"`` → ``Decimal('3340.80')``; refuses what is not a finite decimal amount."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {text!r}") from exc
    return round_half_up(_decimal(value))


def to_cents(amount: Decimal) -> int:
    """Whole cents, as Stripe counts: ``Decimal('12.34')`` → ``1234``."""
    return int(round_half_up(amount) * 100)


def from_cents(cents: int) -> Decimal:
    """``1234`` → ``Decimal('12.34')``."""
    if isinstance(cents, bool) or not isinstance(cents, int):
        raise TypeError(f"cents must be int, not {type(cents).__name__}")
    return round_half_up(Decimal(cents) / Decimal(100))
