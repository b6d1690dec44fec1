"""B1-B6 pure rules against ../shared/vectors/billing.csv, plus property tests of the prorata."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prisme_billing import domain
from prisme_billing.domain import PRISME_DEFAULT as PRICE
from prisme_chassis.money import ZERO, money_str, round_half_up
from prisme_testing.vectors import billing_vectors

VECTORS = billing_vectors()


def test_vectors_cover_the_done_when_cases() -> None:
    kinds = {row["kind"] for row in VECTORS}
    assert kinds == {"invoice", "additional_invoice", "credit_note"}
    postes = {int(r["postes"]) for r in VECTORS if r["kind"] == "invoice"}
    assert {6, 7, 12} <= postes
    assert len(VECTORS) >= 13


@pytest.mark.parametrize("row", VECTORS, ids=[r["case"] for r in VECTORS])
def test_vector(row: dict[str, str]) -> None:
    on = date.fromisoformat(row["date"])
    before, postes = int(row["postes_before"]), int(row["postes"])
    expected_ttc = Decimal(row["amount_ttc"])
    assert domain.days_in_year(on.year) == int(row["days_in_year"])
    if row["kind"] == "invoice":
        charge = domain.activation_charge(PRICE, postes, on)
        assert charge.yearly_ttc == Decimal(row["yearly_ttc"])
        assert domain.days_covered(on) == int(row["days"]) == charge.days
        amount = charge.amount_ttc
    elif row["kind"] == "additional_invoice":
        extra = domain.amendment_charge(PRICE, before, postes, on)
        assert extra is not None
        assert extra.yearly_ttc == Decimal(row["yearly_ttc"])
        assert extra.days == int(row["days"])
        amount = extra.amount_ttc
    else:
        year_start = date(on.year, 1, 1)
        invoiced = domain.activation_charge(PRICE, postes, year_start)
        line = domain.InvoicedLine(
            invoiced.description,
            invoiced.yearly_ttc,
            invoiced.period_start,
            invoiced.period_end,
            invoiced.amount_ttc,
        )
        assert domain.unused_days(on) == int(row["days"])
        credit = domain.credit_for_cessation(line, on)
        amount = credit.amount_ttc if credit else ZERO
        if credit:
            assert credit.days == int(row["days"])
            assert credit.yearly_ttc == Decimal(row["yearly_ttc"])
    assert amount == expected_ttc
    split = domain.split_ttc(amount)
    assert split.ht == Decimal(row["amount_ht"])
    assert split.vat == Decimal(row["amount_vat"])
    assert split.ht + split.vat == split.ttc == expected_ttc


def test_price_of_postes() -> None:
    assert domain.yearly_price(PRICE, 0) == Decimal("3480.00")
    assert domain.yearly_price(PRICE, 6) == Decimal("3480.00")
    assert domain.yearly_price(PRICE, 7) == Decimal("3828.00")
    assert domain.yearly_price(PRICE, 12) == Decimal("5568.00")
    with pytest.raises(ValueError, match="postes"):
        domain.yearly_price(PRICE, -1)


def test_removing_postes_refunds_nothing() -> None:
    assert domain.amendment_charge(PRICE, 8, 7, date(2026, 5, 1)) is None
    assert domain.amendment_charge(PRICE, 3, 5, date(2026, 5, 1)) is None  # still under 6


def test_rounding_is_half_up() -> None:
    assert round_half_up(Decimal("0.125")) == Decimal("0.13")
    assert round_half_up(Decimal("2.675")) == Decimal("2.68")
    assert money_str(Decimal("3340.8")) == "3340.80"


def test_document_numbers() -> None:
    assert domain.document_number("invoice", 2026, 123) == "F2026-000123"
    assert domain.document_number("credit_note", 2026, 4) == "A2026-000004"


def test_prorate_rejects_days_out_of_range() -> None:
    with pytest.raises(ValueError, match="days"):
        domain.prorate(Decimal("100.00"), 366, 2026)


cents = st.integers(min_value=0, max_value=10_000_000).map(lambda c: Decimal(c) / 100)
days_2026 = st.dates(min_value=date(2026, 1, 1), max_value=date(2026, 12, 31))
any_day = st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31))


@given(yearly=cents, start=any_day)
def test_prorata_bounded_and_exact_at_full_year(yearly: Decimal, start: date) -> None:
    amount = domain.prorate(yearly, domain.days_covered(start), start.year)
    assert ZERO <= amount <= yearly
    assert amount == round_half_up(amount)
    full = domain.prorate(yearly, domain.days_in_year(start.year), start.year)
    assert full == yearly


@given(yearly=cents, start=any_day)
def test_prorata_never_increases_with_a_later_start(yearly: Decimal, start: date) -> None:
    if start.month == 12 and start.day == 31:
        return
    later = start + timedelta(days=1)
    assert domain.prorate(yearly, domain.days_covered(later), later.year) <= domain.prorate(
        yearly, domain.days_covered(start), start.year
    )


@given(ttc=cents)
def test_ht_plus_vat_is_ttc(ttc: Decimal) -> None:
    split = domain.split_ttc(ttc)
    assert split.ht + split.vat == split.ttc == round_half_up(ttc)
    # HT is the closest cent to TTC / 1.085, so VAT is never off by more than a cent.
    assert abs(split.ht * Decimal("1.085") - split.ttc) <= Decimal("0.01")


@given(postes=st.integers(min_value=0, max_value=60), effective=any_day)
def test_cessation_credit_plus_used_part_is_the_invoice(postes: int, effective: date) -> None:
    invoiced = domain.activation_charge(PRICE, postes, date(effective.year, 1, 1))
    line = domain.InvoicedLine(
        "x", invoiced.yearly_ttc, invoiced.period_start, invoiced.period_end, invoiced.amount_ttc
    )
    credit = domain.credit_for_cessation(line, effective)
    used = domain.prorate(
        invoiced.yearly_ttc, (effective - invoiced.period_start).days + 1, effective.year
    )
    credited = credit.amount_ttc if credit else ZERO
    assert credited <= invoiced.amount_ttc
    assert abs(credited + used - invoiced.amount_ttc) <= Decimal("0.01")


@given(before=st.integers(0, 40), after=st.integers(0, 40), effective=days_2026)
def test_amendment_bills_only_the_difference(before: int, after: int, effective: date) -> None:
    extra = domain.amendment_charge(PRICE, before, after, effective)
    diff = domain.yearly_price(PRICE, after) - domain.yearly_price(PRICE, before)
    if diff <= 0:
        assert extra is None
    else:
        assert extra is not None
        assert extra.yearly_ttc == diff
        assert extra.amount_ttc == domain.prorate(diff, domain.days_covered(effective), 2026)


def test_contract_payment_status() -> None:
    status = domain.contract_payment_status
    assert status([], awaiting_price=True, refunded=False) == "awaiting_price"
    assert status([], awaiting_price=False, refunded=False) == "not_invoiced"
    assert status(["paid", "open"], awaiting_price=False, refunded=False) == "unpaid"
    assert (
        status(["paid", "payment_failed"], awaiting_price=False, refunded=False) == "payment_failed"
    )
    assert status(["paid", "paid"], awaiting_price=False, refunded=False) == "paid"
    assert status(["paid"], awaiting_price=False, refunded=True) == "refunded"
