"""The money module: Decimal only, half-up, the API's and the French spellings."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prisme_chassis.money import (
    eur_fr,
    from_cents,
    money_str,
    parse_money,
    round_half_up,
    to_cents,
)

amounts = st.decimals(
    min_value=Decimal("-1000000"), max_value=Decimal("1000000"), places=2, allow_nan=False
)


@pytest.mark.parametrize(
    ("value", "rounded"),
    [
        ("0.125", "0.13"),
        ("2.675", "2.68"),
        ("0.005", "0.01"),
        ("-0.005", "-0.01"),
        ("1.994", "1.99"),
    ],
)
def test_rounds_half_away_from_zero(value: str, rounded: str) -> None:
    assert round_half_up(Decimal(value)) == Decimal(rounded)


def test_floats_are_refused() -> None:
    with pytest.raises(TypeError):
        round_half_up(0.1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        money_str(3340.8)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        eur_fr(1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="finite"):
        money_str(Decimal("NaN"))


def test_api_spelling() -> None:
    assert money_str(Decimal("3340.8")) == "3340.80"
    assert money_str(Decimal("0")) == "0.00"
    assert money_str(Decimal("-12.345")) == "-12.35"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("3340.8", "3\u00a0340,80\u00a0€"),
        ("0", "0,00\u00a0€"),
        ("999.995", "1\u00a0000,00\u00a0€"),
        ("1234567.891", "1\u00a0234\u00a0567,89\u00a0€"),
        ("-12.5", "-12,50\u00a0€"),
        ("40", "40,00\u00a0€"),
    ],
)
def test_french_spelling(value: str, text: str) -> None:
    assert eur_fr(Decimal(value)) == text


def test_parse_refuses_what_is_not_an_amount() -> None:
    assert parse_money(" 3340.80 ") == Decimal("3340.80")
    for bad in ("", "abc", "1,5", "inf", "NaN"):
        with pytest.raises(ValueError, match="amount"):
            parse_money(bad)


@given(amounts)
def test_spellings_round_trip(amount: Decimal) -> None:
    assert parse_money(money_str(amount)) == amount
    assert from_cents(to_cents(amount)) == amount
    french = eur_fr(amount).removesuffix("\u00a0€").replace("\u00a0", "").replace(",", ".")
    assert Decimal(french) == amount
