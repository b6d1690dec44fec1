"""Pure rules of licence-svc: login names, initial passwords, retry delays, carry-over."""

from __future__ import annotations

import string
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prisme_licence import domain


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        ("Jérôme", "Lebon", "jerome.lebon"),
        ("Marie Ève", "N'Guyen", "marieeve.nguyen"),
        ("Jean-Marc", "Dupont  Durand", "jean-marc.dupontdurand"),
        ("Anaïs", "Cœur", "anais.coeur"),
        ("  ", "Hoarau", "hoarau"),
        ("李", "王", "utilisateur"),
        ("Ærøskøbing", "Straße", "aeroskobing.strasse"),
    ],
)
def test_upn_local_part_strips_accents_and_spaces(first: str, last: str, expected: str) -> None:
    assert domain.upn_local_part(first, last) == expected


def test_unique_upn_resolves_collisions_case_insensitively() -> None:
    taken = ["Jerome.Lebon@cabinet.re", "jerome.lebon2@cabinet.re"]
    assert domain.unique_upn("Jérôme", "Lebon", "Cabinet.RE", taken) == "jerome.lebon3@cabinet.re"
    assert domain.unique_upn("Jérôme", "Lebon", "cabinet.re", []) == "jerome.lebon@cabinet.re"


def test_unique_upn_respects_graph_length_limit() -> None:
    upn = domain.unique_upn("A" * 50, "B" * 50, "x.re", ["a" * 50 + "." + "b" * 13 + "@x.re"])
    local = upn.split("@")[0]
    assert len(local) <= domain.UPN_LOCAL_MAX
    assert local.endswith("2")


@given(st.text(max_size=40), st.text(max_size=40))
def test_local_part_is_always_graph_safe(first: str, last: str) -> None:
    local = domain.upn_local_part(first, last)
    assert local
    assert len(local) <= domain.UPN_LOCAL_MAX
    assert set(local) <= set(string.ascii_lowercase + string.digits + ".-")
    assert not local.startswith((".", "-"))
    assert not local.endswith((".", "-"))
    assert ".." not in local


def test_initial_passwords_are_complex_and_distinct() -> None:
    seen = set()
    for _ in range(200):
        pw = domain.initial_password()
        assert len(pw) == 16
        assert any(c.isupper() for c in pw)
        assert any(c.islower() for c in pw)
        assert any(c.isdigit() for c in pw)
        assert any(not c.isalnum() for c in pw)
        seen.add(pw)
    assert len(seen) == 200
    with pytest.raises(ValueError, match="12"):
        domain.initial_password(8)


def test_backoff_is_exponential_and_capped() -> None:
    assert [domain.backoff_seconds(n, 1.0, 30.0) for n in range(0, 8)] == [
        0,
        1,
        2,
        4,
        8,
        16,
        30,
        30,
    ]
    assert domain.backoff_seconds(10_000, 1.0, 300.0) == 300.0


@pytest.mark.parametrize(
    ("header", "expected"), [("7", 7.0), (" 2 ", 2.0), (None, 1.0), ("soon", 1.0), ("-3", 0.0)]
)
def test_retry_after(header: str | None, expected: float) -> None:
    assert domain.retry_after_seconds(header) == expected


def test_carry_over_needs_a_renewal_with_microsoft_365() -> None:
    rid = uuid.uuid4()
    assert domain.carries_over(rid, ["backup", "microsoft_365"])
    assert not domain.carries_over(rid, ["backup"])
    assert not domain.carries_over(None, ["microsoft_365"])
    assert domain.includes_microsoft_365(["microsoft_365"])
    assert not domain.includes_microsoft_365([])
