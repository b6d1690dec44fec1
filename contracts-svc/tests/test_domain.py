"""Pure rules of contracts-svc: identity checks, contract-year dates, postes, eligibility."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prisme_chassis.clock import business_day
from prisme_contracts import domain
from prisme_contracts.domain import AssetView, NetworkView

# --- SIREN (Luhn) -----------------------------------------------------------


def _luhn_complete(prefix: str) -> str:
    for key in "0123456789":
        if domain.luhn_valid(prefix + key):
            return prefix + key
    raise AssertionError("a Luhn key always exists")


@pytest.mark.parametrize("siren", ["732829320", "552100554", "443061841", "356000000"])
def test_known_sirens_are_valid(siren: str) -> None:
    assert domain.siren_is_valid(siren)


@pytest.mark.parametrize(
    "siren", ["732829321", "12345678", "1234567890", "73282932a", "", "３５６０００００"]
)
def test_malformed_sirens_are_refused(siren: str) -> None:
    assert not domain.siren_is_valid(siren)


@settings(deadline=None)  # a shared 2-core machine: no per-example time limit
@given(st.from_regex(r"\A[0-9]{8}\Z"))
def test_exactly_one_luhn_key_per_prefix(prefix: str) -> None:
    valid = [k for k in "0123456789" if domain.luhn_valid(prefix + k)]
    assert len(valid) == 1
    assert domain.siren_is_valid(_luhn_complete(prefix))


@settings(deadline=None)  # a shared 2-core machine: no per-example time limit
@given(st.from_regex(r"\A[0-9]{9}\Z"), st.integers(0, 8), st.integers(1, 9))
def test_a_single_digit_error_is_detected(siren: str, pos: int, delta: int) -> None:
    siren = _luhn_complete(siren[:8])
    wrong = siren[:pos] + str((int(siren[pos]) + delta) % 10) + siren[pos + 1 :]
    assert not domain.luhn_valid(wrong)


def test_siren_normalisation_drops_spaces() -> None:
    assert domain.normalize_siren("732 829 320") == "732829320"


# --- contacts and addresses ---------------------------------------------------


@pytest.mark.parametrize("email", ["dr.payet@cabinet-payet.re", "a+b@x.fr", "x_y@sub.domain.com"])
def test_valid_emails(email: str) -> None:
    assert domain.email_is_valid(email)


@pytest.mark.parametrize(
    "email", ["", "no-at.fr", "a@b", "a b@x.fr", "a@@x.fr", ".a@x.fr", "a..b@x.fr", "a@x..fr"]
)
def test_invalid_emails(email: str) -> None:
    assert not domain.email_is_valid(email)


@pytest.mark.parametrize(
    "phone", ["0262 12 34 56", "+262 692 12 34 56", "06.92.12.34.56", "+33 1 23 45 67 89"]
)
def test_valid_phones(phone: str) -> None:
    assert domain.phone_is_valid(phone)


@pytest.mark.parametrize("phone", ["", "12", "0062123456", "+1 555 123 4567", "0262 12 34 5x"])
def test_invalid_phones(phone: str) -> None:
    assert not domain.phone_is_valid(phone)


@settings(deadline=None)  # a shared 2-core machine: no per-example time limit
@given(st.integers(0, 99))
def test_every_974xx_code_is_reunion(n: int) -> None:
    assert domain.is_reunion_postal_code(f"974{n:02d}")


@settings(deadline=None)  # a shared 2-core machine: no per-example time limit
@given(st.from_regex(r"\A[0-9]{5}\Z").filter(lambda s: not s.startswith("974")))
def test_other_postal_codes_are_not_reunion(code: str) -> None:
    assert domain.postal_code_is_valid(code)
    assert not domain.is_reunion_postal_code(code)


# --- contract year (C2) -----------------------------------------------------------


@settings(deadline=None)  # a shared 2-core machine: no per-example time limit
@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2200, 12, 31)))
def test_contract_ends_on_31_december_of_its_start_year(start: date) -> None:
    end = domain.end_of_year(start.year)
    assert end == date(start.year, 12, 31)
    assert domain.within_contract(start, end, start)
    assert domain.within_contract(start, end, end)
    assert not domain.within_contract(start, end, end + timedelta(days=1))
    assert not domain.within_contract(start, end, start - timedelta(days=1))
    # the covered days never exceed the year, and a 1 January start covers the whole year
    covered = (end - start).days + 1
    assert 1 <= covered <= domain.days_in_year(start.year)
    if (start.month, start.day) == (1, 1):
        assert covered == domain.days_in_year(start.year)
    if (start.month, start.day) == (12, 31):
        assert covered == 1


@settings(deadline=None)  # a shared 2-core machine: no per-example time limit
@given(st.integers(1900, 2400))
def test_days_in_year_follows_the_gregorian_leap_rule(year: int) -> None:
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    assert domain.days_in_year(year) == (366 if leap else 365)


@settings(deadline=None)  # a shared 2-core machine: no per-example time limit
@given(st.integers(2000, 2200))
def test_ends_at_is_the_last_second_in_reunion(year: int) -> None:
    at = domain.ends_at(year)
    # Indian/Reunion is UTC+4 with no daylight saving
    assert at.astimezone(UTC) == datetime(year, 12, 31, 19, 59, 59, tzinfo=UTC)
    assert business_day(at) == date(year, 12, 31)
    assert business_day(at + timedelta(seconds=1)) == date(year + 1, 1, 1)


@settings(deadline=None)  # a shared 2-core machine: no per-example time limit
@given(
    st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
    )
)
def test_next_year_end_is_reunion_midnight_after_now(now: datetime) -> None:
    nxt = domain.next_year_end_instant(now)
    local = nxt.astimezone(domain.REUNION)
    assert (local.month, local.day, local.hour, local.minute, local.second) == (1, 1, 0, 0, 0)
    assert nxt > now
    assert nxt - now <= timedelta(days=366)
    # the year to close right at that instant is the year that just ended
    assert domain.year_to_close(nxt) == local.year - 1
    assert domain.year_to_close(nxt - timedelta(seconds=1)) == local.year - 2


def test_reunion_midnight_is_20_00_utc_the_day_before() -> None:
    assert business_day(datetime(2026, 12, 31, 19, 59, 59, tzinfo=UTC)) == date(2026, 12, 31)
    assert business_day(datetime(2026, 12, 31, 20, 0, 0, tzinfo=UTC)) == date(2027, 1, 1)
    with pytest.raises(ValueError, match="aware"):
        business_day(datetime(2026, 1, 1))


# --- postes (B1) -----------------------------------------------------------------

asset_st = st.builds(
    AssetView,
    name=st.text(min_size=1, max_size=8),
    kind=st.sampled_from(["server", "workstation", "peripheral"]),
    form=st.sampled_from(["physical", "virtual"]),
    os=st.sampled_from(
        ["Windows 11 Pro", "Windows Server 2022", "Ubuntu 24.04", "macOS 14", "n/a"]
    ),
    supplied_by=st.sampled_from(["provider", "partner", "third_party"]),
    partner=st.none() | st.sampled_from(["Medisoft", "Unknown SARL"]),
)


@settings(deadline=None)  # a shared 2-core machine: no per-example time limit
@given(st.lists(asset_st, max_size=30))
def test_postes_are_servers_and_workstations_physical_or_virtual(assets: list[AssetView]) -> None:
    postes = domain.count_postes(assets)
    peripherals = domain.count_peripherals(assets)
    assert postes + peripherals == len(assets)
    assert postes == len([a for a in assets if a.kind != "peripheral"])


def test_virtual_servers_count_as_postes() -> None:
    assets = [
        AssetView("SRV", "server", "virtual", "Windows Server 2022", "provider"),
        AssetView("PC1", "workstation", "physical", "Windows 11", "provider"),
        AssetView("IMP", "peripheral", "physical", "n/a", "provider"),
    ]
    assert domain.count_postes(assets) == 2
    assert domain.count_peripherals(assets) == 1


@pytest.mark.parametrize(
    ("os_name", "expected"),
    [
        ("Windows 11 Pro", True),
        ("Microsoft Windows Server 2019", True),
        ("windows 10", True),
        ("Ubuntu", False),
        ("Windowsless", False),
    ],
)
def test_windows_detection(os_name: str, expected: bool) -> None:
    assert domain.runs_windows(os_name) is expected


# --- eligibility (C3) -------------------------------------------------------------

GOOD_NET = NetworkView(lan_count=1, download_mbps=1000, upload_mbps=600)
GOOD_ASSETS = [
    AssetView("SRV", "server", "physical", "Windows Server 2022", "provider"),
    AssetView("PC1", "workstation", "virtual", "Windows 11", "partner", "Medisoft"),
    AssetView("IMP", "peripheral", "physical", "firmware", "provider"),
]


def _eval(**kw: object) -> domain.Eligibility:
    args: dict[str, object] = {
        "postal_code": "97490",
        "network": GOOD_NET,
        "assets": GOOD_ASSETS,
        "partners": ["medisoft"],
    }
    args.update(kw)
    return domain.evaluate_eligibility(**args)  # type: ignore[arg-type]


def test_a_compliant_practice_is_eligible() -> None:
    assert _eval().eligible
    assert _eval().failures == ()


@pytest.mark.parametrize(
    ("kw", "criterion", "fragment"),
    [
        ({"postal_code": "75001"}, "postal_code", "75001"),
        ({"network": NetworkView(2, 1000, 600)}, "single_network", "2"),
        ({"network": NetworkView(1, 999, 600)}, "internet_speed", "descendant"),
        ({"network": NetworkView(1, 1000, 599)}, "internet_speed", "montant"),
        (
            {
                "assets": [
                    *GOOD_ASSETS,
                    AssetView("NAS", "peripheral", "physical", "x", "third_party"),
                ]
            },
            "asset_supplier",
            "NAS",
        ),
        ({"partners": []}, "asset_supplier", "PC1"),
        (
            {
                "assets": [
                    *GOOD_ASSETS,
                    AssetView("MAC", "workstation", "physical", "macOS 14", "provider"),
                ]
            },
            "windows_os",
            "MAC",
        ),
    ],
)
def test_each_criterion_fails_on_its_own(
    kw: dict[str, object], criterion: str, fragment: str
) -> None:
    result = _eval(**kw)
    assert not result.eligible
    assert [f.criterion for f in result.failures] == [criterion]
    assert fragment in result.failures[0].detail


def test_undeclared_network_fails_network_and_speed() -> None:
    result = _eval(network=None)
    assert [f.criterion for f in result.failures] == ["single_network", "internet_speed"]


@settings(deadline=None)  # a shared 2-core machine: no per-example time limit
@given(
    st.from_regex(r"\A[0-9]{5}\Z"),
    st.none()
    | st.builds(NetworkView, st.integers(0, 3), st.integers(0, 3000), st.integers(0, 3000)),
    st.lists(asset_st, max_size=10),
    st.lists(st.sampled_from(["Medisoft", "Other"]), max_size=2),
)
def test_every_failure_is_a_known_criterion_and_listed_once(
    postal_code: str, network: NetworkView | None, assets: list[AssetView], partners: list[str]
) -> None:
    result = domain.evaluate_eligibility(
        postal_code=postal_code, network=network, assets=assets, partners=partners
    )
    criteria = [f.criterion for f in result.failures]
    assert len(criteria) == len(set(criteria))
    assert set(criteria) <= set(domain.CRITERIA)
    assert all(f.detail for f in result.failures)
    assert result.eligible == (not criteria)
    # the postal-code criterion is exactly the 974xx rule
    assert ("postal_code" in criteria) == (not postal_code.startswith("974"))
    if network is not None:
        assert ("single_network" in criteria) == (network.lan_count != 1)
        assert ("internet_speed" in criteria) == (
            network.download_mbps < 1000 or network.upload_mbps < 600
        )
    assert ("windows_os" in criteria) == any(
        a.kind != "peripheral" and not domain.runs_windows(a.os) for a in assets
    )


def test_an_override_covers_its_own_criterion_only() -> None:
    bad = _eval(postal_code="75001")
    assert domain.is_non_conforming(bad, overridden=set())
    assert not domain.is_non_conforming(bad, overridden={"postal_code"})
    # C3: an override of another criterion hides nothing.
    assert domain.is_non_conforming(bad, overridden={"single_network"})
    assert not domain.is_non_conforming(_eval(), overridden=set())


def test_a_partner_supplied_asset_must_name_a_listed_partner() -> None:
    unnamed = AssetView("PC1", "workstation", "physical", "Windows 11", "partner", None)
    result = domain.evaluate_eligibility(
        postal_code="97490",
        network=NetworkView(1, 1000, 600),
        assets=[unnamed],
        partners=["Medisoft"],
    )
    assert [f.criterion for f in result.failures] == ["asset_supplier"]
    assert "PC1" in result.failures[0].detail


# --- cessation documents (C6) -----------------------------------------------------


@pytest.mark.parametrize(
    ("head", "media_type"),
    [
        (b"%PDF-1.7\n", "application/pdf"),
        (b"\xff\xd8\xff\xe0JFIF", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\nIHDR", "image/png"),
        (b"GIF89a", None),
        (b"", None),
    ],
)
def test_documents_are_recognised_by_content(head: bytes, media_type: str | None) -> None:
    assert domain.sniff_document_type(head) == media_type


# --- amendments (C5) ----------------------------------------------------------------------

period_st = st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31)).map(
    lambda d: (d, domain.end_of_year(d.year))
)


@settings(deadline=None)
@given(
    st.lists(period_st, max_size=3),
    st.dates(min_value=date(2019, 1, 1), max_value=date(2031, 12, 31)),
)
def test_a_change_takes_effect_within_each_contract_not_over(
    periods: list[tuple[date, date]], day: date
) -> None:
    effective = domain.amendment_effective_dates(periods, day)
    assert len(effective) == len(periods)
    for (start, end), eff in zip(periods, effective, strict=True):
        if end < day:
            assert eff is None  # already over: awaits its year-end
        else:
            assert eff is not None
            assert domain.within_contract(start, end, eff)
            assert eff == max(day, start)


def test_a_change_before_an_early_renewal_counts_from_its_first_day() -> None:
    this_year = (date(2026, 3, 15), date(2026, 12, 31))
    next_year = (date(2027, 1, 1), date(2027, 12, 31))
    assert domain.amendment_effective_dates([this_year, next_year], date(2026, 6, 1)) == [
        date(2026, 6, 1),
        date(2027, 1, 1),
    ]
    assert domain.amendment_effective_dates([this_year], date(2026, 3, 1)) == [date(2026, 3, 15)]
