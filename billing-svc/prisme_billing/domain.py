"""Pure billing rules (DESIGN.md B1-B6, B10): prices, prorata, VAT split, numbers, dunning.

No I/O here: plain functions over plain values, imported by the service layer.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal

from prisme_chassis.money import ZERO, money_str, round_half_up

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
    #: the maintenance level ("niveau de prise en charge") this price is for (B1)
    level: str = "standard"

    @property
    def key(self) -> PriceKey:
        return (self.offer, self.level)


#: B1: the price book is keyed by (offer, maintenance level).
PriceKey = tuple[str, str]
#: contracts-svc's default level: PRISME's published price (B1).
DEFAULT_LEVEL = "standard"


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


ONE = Decimal("1")
#: UN/ECE rec. 20 unit codes: a flat fee (one) and an hour.
UNIT_ONE = "C62"
UNIT_HOUR = "HUR"


def fr_date(value: date) -> str:
    return value.strftime("%d/%m/%Y")


@dataclass(frozen=True, slots=True)
class Charge:
    """One document line to issue: ``quantity`` × ``unit_ttc`` = ``amount_ttc``.

    A prorated line (B2, B4, B5) bills quantity 1 of the period's share of a yearly price:
    its unit price is the prorated amount and :attr:`prorata` says how it was computed. A
    one-off line (B9) bills hours or flat fees at a price-book unit price.
    """

    description: str
    quantity: Decimal
    unit_ttc: Decimal
    amount_ttc: Decimal
    period_start: date
    period_end: date
    yearly_ttc: Decimal | None = None
    postes: int | None = None
    unit_code: str = UNIT_ONE
    prorated: bool = True

    @property
    def days(self) -> int:
        return (self.period_end - self.period_start).days + 1

    @property
    def days_in_year(self) -> int:
        return days_in_year(self.period_end.year)

    @property
    def prorata(self) -> str | None:
        """The line's prorata as an accountant checks it (B2), in French."""
        if not self.prorated:
            return None
        return prorata_text(self.days, self.days_in_year, self.period_start, self.period_end)


def prorata_text(days: int, diy: int, start: date, end: date) -> str:
    """``292 jours sur 365, du 15/03/2026 au 31/12/2026``."""
    return f"{days} jours sur {diy}, du {fr_date(start)} au {fr_date(end)}"


def _postes_wording(price: Price, postes: int) -> str:
    extra = max(0, postes - price.included_postes)
    if not extra:
        return f"{postes} poste(s)"
    return f"{postes} postes ({price.included_postes} inclus + {extra} supplémentaire(s))"


def _prorated(
    description: str,
    yearly: Decimal,
    start: date,
    end: date,
    postes: int | None,
    amount: Decimal | None = None,
) -> Charge:
    if amount is None:
        amount = prorate(yearly, (end - start).days + 1, end.year)
    return Charge(
        description=description,
        quantity=ONE,
        unit_ttc=amount,
        amount_ttc=amount,
        period_start=start,
        period_end=end,
        yearly_ttc=yearly,
        postes=postes,
    )


def activation_charge(price: Price, postes: int, start: date) -> Charge:
    """B2: the year's invoice line for an activation on ``start``."""
    return _prorated(
        f"{price.label} — {_postes_wording(price, postes)}, engagement {start.year}",
        yearly_price(price, postes),
        start,
        end_of_year(start.year),
        postes,
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
    return _prorated(
        f"{price.label} — ajout de {postes - postes_before} poste(s) "
        f"({postes_before} → {postes}), engagement {effective.year}",
        added,
        effective,
        end_of_year(effective.year),
        postes,
    )


@dataclass(frozen=True, slots=True)
class InvoicedLine:
    """A finalised invoice line as far as a credit note needs it."""

    description: str
    yearly_ttc: Decimal | None
    period_start: date
    period_end: date
    amount_ttc: Decimal
    postes: int | None = None


def credit_for_cessation(line: InvoicedLine, effective: date) -> Charge | None:
    """B5: credit the unused days (``effective`` + 1 through 31 December) of one invoiced line,
    with the same formula; never more than the line itself. ``None`` when nothing is owed
    (or for a one-off line, which is not a share of a year)."""
    if line.yearly_ttc is None:
        return None
    first_unused = max(line.period_start, effective + timedelta(days=1))
    if first_unused > line.period_end:
        return None
    days = (line.period_end - first_unused).days + 1
    amount = min(prorate(line.yearly_ttc, days, line.period_end.year), line.amount_ttc)
    if amount <= 0:
        return None
    return _prorated(
        f"Avoir — cessation d'activité au {fr_date(effective)} : {line.description}",
        line.yearly_ttc,
        first_unused,
        line.period_end,
        line.postes,
        amount=amount,
    )


def capped(charge: Charge, amount_ttc: Decimal) -> Charge:
    """The same credit line for at most ``amount_ttc`` (B6: never more than what is left)."""
    amount = min(charge.amount_ttc, amount_ttc)
    return replace(
        charge, amount_ttc=amount, unit_ttc=amount if charge.quantity == ONE else charge.unit_ttc
    )


def one_off_charge(
    label: str, quantity: Decimal, unit_ttc: Decimal, unit_code: str, day: date, note: str
) -> Charge:
    """B9: a price-book item (travel to a zone, hours of work) done on ``day``."""
    if quantity <= 0:
        raise ValueError("quantity must be positive")
    return Charge(
        description=f"{label} — {note}" if note else label,
        quantity=quantity,
        unit_ttc=unit_ttc,
        amount_ttc=round_half_up(quantity * unit_ttc),
        period_start=day,
        period_end=day,
        unit_code=unit_code,
        prorated=False,
    )


class CreditExceeded(ValueError):
    """A correction would credit more than what is left of the invoice (B6)."""


def correction_charge(
    invoice_number: str,
    line: InvoicedLine,
    amount_ttc: Decimal,
    already_credited: Decimal,
    reason: str,
) -> Charge:
    """B6: credit ``amount_ttc`` of one invoice line, never more than what is left of it."""
    amount = round_half_up(amount_ttc)
    if amount != amount_ttc or amount <= 0:
        raise ValueError("the amount must be positive with at most two decimals")
    left = line.amount_ttc - already_credited
    if amount > left:
        raise CreditExceeded(f"only {money_str(left)} EUR of this line is left to credit")
    return Charge(
        description=f"Avoir sur la facture {invoice_number} ({reason}) : {line.description}",
        quantity=ONE,
        unit_ttc=amount,
        amount_ttc=amount,
        period_start=line.period_start,
        period_end=line.period_end,
        yearly_ttc=None,
        postes=line.postes,
        prorated=False,
    )


SERIES_PREFIX = {"invoice": "F", "credit_note": "A"}


def document_number(kind: str, year: int, sequence: int) -> str:
    """B6: ``F2026-000123`` for invoices, ``A2026-000004`` for credit notes."""
    return f"{SERIES_PREFIX[kind]}{year}-{sequence:06d}"


#: Days between issue and due date printed on invoices (B7).
PAYMENT_TERM_DAYS = 30


def due_date(issue: date) -> date:
    return issue + timedelta(days=PAYMENT_TERM_DAYS)


# --- dunning (B10) ---------------------------------------------------------------------------

#: Reminders to the practice's manager, in days after the due date (B10).
REMINDER_DAYS = (7, 21)
#: The fixed recovery indemnity of art. D441-5 of the Code de commerce (B7, B10).
RECOVERY_INDEMNITY = Decimal("40.00")


def days_late(due: date, today: date) -> int:
    """Days past the due date (0 while it is not past)."""
    return max(0, (today - due).days)


def late_penalty(outstanding: Decimal, annual_rate_percent: Decimal, late: int) -> Decimal:
    """B10: simple interest at the invoice's stated annual rate over the days late (computed
    and shown, never added to the invoice)."""
    if outstanding <= 0 or late <= 0:
        return ZERO
    return round_half_up(outstanding * annual_rate_percent / Decimal(100) * late / Decimal(365))


def reminders_due(due: date, today: date, sent: set[int]) -> list[int]:
    """The reminder stages (days after due) reached by ``today`` and not sent yet."""
    return [d for d in REMINDER_DAYS if days_late(due, today) >= d and d not in sent]


def quantity_str(value: Decimal) -> str:
    """A quantity without trailing zeros: ``1``, ``1.5``."""
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


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
