"""Pure billing rules (DESIGN.md B1-B6): prices, prorata, VAT split, document numbers.

No I/O here: plain functions over plain values, imported by the service layer.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from prisme_chassis.money import ZERO, round_half_up

#: B3: La Réunion's normal VAT rate (DOM), 8.5 %.
VAT_RATE = Decimal("8.5")
_VAT_FACTOR = Decimal("1") + VAT_RATE / Decimal("100")


@dataclass(frozen=True, slots=True)
class Price:
    """One price-book entry (B1): a yearly TTC price for up to ``included_postes`` postes,
    plus ``extra_poste_ttc`` for each poste beyond."""

    offer: str
    base_ttc: Decimal
    included_postes: int
    extra_poste_ttc: Decimal
    label: str


def yearly_price(price: Price, postes: int) -> Decimal:
    """B1: the yearly TTC price of ``postes`` postes (a contract with 1 poste pays the base)."""
    if postes < 0:
        raise ValueError("postes must be >= 0")
    extra = max(0, postes - price.included_postes)
    return round_half_up(price.base_ttc + price.extra_poste_ttc * extra)


def end_of_year(year: int) -> date:
    return date(year, 12, 31)


def days_in_year(year: int) -> int:
    return 366 if calendar.isleap(year) else 365


def days_covered(start: date) -> int:
    """B2: days from ``start`` through 31 December of its year, both included."""
    return (end_of_year(start.year) - start).days + 1


def unused_days(effective: date) -> int:
    """B5: days from the day after ``effective`` (last day covered) through 31 December."""
    return (end_of_year(effective.year) - effective).days


def prorate(yearly_ttc: Decimal, days: int, year: int) -> Decimal:
    """B2: ``round_half_up(yearly_ttc × days / days_in_year, 2)``."""
    diy = days_in_year(year)
    if not 0 <= days <= diy:
        raise ValueError(f"days must be within 0..{diy}")
    return round_half_up(yearly_ttc * Decimal(days) / Decimal(diy))


@dataclass(frozen=True, slots=True)
class Amounts:
    ht: Decimal
    vat: Decimal
    ttc: Decimal


def split_ttc(ttc: Decimal) -> Amounts:
    """B3: HT = round_half_up(TTC / 1.085), VAT = TTC − HT, so HT + VAT = TTC exactly."""
    ttc = round_half_up(ttc)
    ht = round_half_up(ttc / _VAT_FACTOR)
    return Amounts(ht=ht, vat=ttc - ht, ttc=ttc)


def sum_amounts(items: list[Amounts]) -> Amounts:
    """Document totals are the sums of the lines, so they add up exactly as the lines do."""
    ht = sum((a.ht for a in items), ZERO)
    vat = sum((a.vat for a in items), ZERO)
    return Amounts(ht=ht, vat=vat, ttc=ht + vat)


@dataclass(frozen=True, slots=True)
class Charge:
    """One invoice line to issue: a yearly TTC amount prorated over a period."""

    description: str
    quantity: int
    yearly_ttc: Decimal
    period_start: date
    period_end: date
    amount_ttc: Decimal

    @property
    def days(self) -> int:
        return (self.period_end - self.period_start).days + 1


def activation_charge(price: Price, postes: int, start: date) -> Charge:
    """B2: the year's invoice line for an activation on ``start``."""
    yearly = yearly_price(price, postes)
    return Charge(
        description=f"{price.label} — {postes} poste(s), engagement {start.year}",
        quantity=postes,
        yearly_ttc=yearly,
        period_start=start,
        period_end=end_of_year(start.year),
        amount_ttc=prorate(yearly, days_covered(start), start.year),
    )


def amendment_charge(
    price: Price, postes_before: int, postes: int, effective: date
) -> Charge | None:
    """B4: adding postes bills the added yearly amount, prorated from ``effective``.

    Removing postes (or adding none) refunds nothing: ``None``. The added amount is the price
    difference, so crossing the 6-poste threshold only bills the postes beyond it.
    """
    added = yearly_price(price, postes) - yearly_price(price, postes_before)
    if postes <= postes_before or added <= 0:
        return None
    return Charge(
        description=(
            f"{price.label} — ajout de {postes - postes_before} poste(s) "
            f"({postes_before} → {postes}), engagement {effective.year}"
        ),
        quantity=postes - postes_before,
        yearly_ttc=added,
        period_start=effective,
        period_end=end_of_year(effective.year),
        amount_ttc=prorate(added, days_covered(effective), effective.year),
    )


@dataclass(frozen=True, slots=True)
class InvoicedLine:
    """A finalised invoice line as far as a credit note needs it."""

    description: str
    yearly_ttc: Decimal
    period_start: date
    period_end: date
    amount_ttc: Decimal


def credit_for_cessation(line: InvoicedLine, effective: date) -> Charge | None:
    """B5: credit the unused days (``effective`` + 1 through 31 December) of one invoiced line,
    with the same formula; never more than the line itself. ``None`` when nothing is owed."""
    first_unused = max(line.period_start, effective + timedelta(days=1))
    if first_unused > line.period_end:
        return None
    days = (line.period_end - first_unused).days + 1
    amount = min(prorate(line.yearly_ttc, days, line.period_end.year), line.amount_ttc)
    if amount <= 0:
        return None
    return Charge(
        description=f"Avoir — cessation d'activité au {effective:%d/%m/%Y} : {line.description}",
        quantity=1,
        yearly_ttc=line.yearly_ttc,
        period_start=first_unused,
        period_end=line.period_end,
        amount_ttc=amount,
    )


SERIES_PREFIX = {"invoice": "F", "credit_note": "A"}


def document_number(kind: str, year: int, sequence: int) -> str:
    """B6: ``F2026-000123`` for invoices, ``A2026-000004`` for credit notes."""
    return f"{SERIES_PREFIX[kind]}{year}-{sequence:06d}"


#: Days between issue and due date printed on invoices (B7).
PAYMENT_TERM_DAYS = 30


def due_date(issue: date) -> date:
    return issue + timedelta(days=PAYMENT_TERM_DAYS)


PRISME_DEFAULT = Price(
    offer="prisme",
    base_ttc=Decimal("3480.00"),
    included_postes=6,
    extra_poste_ttc=Decimal("348.00"),
    label="Infogérance PRISME",
)


def contract_payment_status(
    invoice_statuses: list[str], awaiting_price: bool, refunded: bool
) -> str:
    """B8: one word for a contract's payment state, from its invoices' states.

    ``awaiting_price`` (B1) wins over everything, then ``refunded`` (B5), then a failed
    attempt, then anything still open; ``paid`` once every invoice is paid.
    """
    if awaiting_price:
        return "awaiting_price"
    if refunded:
        return "refunded"
    if not invoice_statuses:
        return "not_invoiced"
    if "payment_failed" in invoice_statuses:
        return "payment_failed"
    if all(s == "paid" for s in invoice_statuses):
        return "paid"
    return "unpaid"
