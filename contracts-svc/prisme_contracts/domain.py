"""Pure contract rules (C1–C6): identity checks, contract-year dates, postes, eligibility.

No I/O here: plain functions over plain values, imported by the service layer.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal

from prisme_chassis.clock import REUNION as REUNION  # the platform's one time zone
from prisme_chassis.clock import business_day

# C3 thresholds: the ISP-declared theoretical speeds.
MIN_DOWNLOAD_MBPS = 1000
MIN_UPLOAD_MBPS = 600

COMPUTER_KINDS = frozenset({"server", "workstation"})

# ---------------------------------------------------------------------------
# Identity checks
# ---------------------------------------------------------------------------


def luhn_valid(digits: str) -> bool:
    """True when ``digits`` (only 0-9, non-empty) passes the Luhn checksum."""
    if not digits or not digits.isascii() or not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def normalize_siren(raw: str) -> str:
    """Strip the spaces operators type between the groups (``"732 829 320"``)."""
    return re.sub(r"[\s.]", "", raw)


def siren_is_valid(siren: str) -> bool:
    """A SIREN is 9 digits whose last one is a Luhn key."""
    return len(siren) == 9 and luhn_valid(siren)


_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)


def email_is_valid(email: str) -> bool:
    """A pragmatic address check: one ``@``, a dotted domain, no spaces, ≤ 254 chars."""
    if len(email) > 254 or ".." in email:
        return False
    local = email.split("@", 1)[0]
    if not local or local.startswith(".") or local.endswith(".") or len(local) > 64:
        return False
    return _EMAIL.fullmatch(email) is not None


_PHONE = re.compile(r"^(?:\+33|\+262|\+269|\+590|\+594|\+596|0)[1-9]\d{8}$")


def normalize_phone(raw: str) -> str:
    """Drop the separators people type (spaces, dots, dashes, parentheses)."""
    return re.sub(r"[\s.\-()]", "", raw)


def phone_is_valid(phone: str) -> bool:
    """A French (mainland or overseas) number: ``0262 12 34 56`` or ``+262 692 12 34 56``."""
    return _PHONE.fullmatch(normalize_phone(phone)) is not None


_POSTAL_CODE = re.compile(r"^\d{5}$")


def postal_code_is_valid(postal_code: str) -> bool:
    """Any French postal code (five digits); being on La Réunion is an eligibility matter."""
    return _POSTAL_CODE.fullmatch(postal_code) is not None


def is_reunion_postal_code(postal_code: str) -> bool:
    """C3: La Réunion's postal codes are 974xx."""
    return re.fullmatch(r"974\d\d", postal_code) is not None


# ---------------------------------------------------------------------------
# Contract year (C2)
# ---------------------------------------------------------------------------


def end_of_year(year: int) -> date:
    return date(year, 12, 31)


def ends_at(year: int) -> datetime:
    """C2: a contract ends on 31 December, 23:59:59 Indian/Reunion time."""
    return datetime.combine(end_of_year(year), time(23, 59, 59), tzinfo=REUNION)


def end_of_day(day: date) -> datetime:
    """The last second of ``day`` in Indian/Reunion time."""
    return datetime.combine(day, time(23, 59, 59), tzinfo=REUNION)


def days_in_year(year: int) -> int:
    return (date(year + 1, 1, 1) - date(year, 1, 1)).days


def within_contract(start_date: date, end_date: date, day: date) -> bool:
    """True when ``day`` falls inside the covered period [start_date, end_date]."""
    return start_date <= day <= end_date


def amendment_effective_dates(periods: Sequence[tuple[date, date]], day: date) -> list[date | None]:
    """C5: when a change made on ``day`` takes effect in each active contract period.

    ``day`` itself in the contract covering it; the first day of a contract not started yet (an
    early renewal); ``None`` for a contract already over (it awaits its year-end).
    """
    effective: list[date | None] = []
    for start, end in periods:
        if within_contract(start, end, day):
            effective.append(day)
        elif start > day:
            effective.append(start)
        else:
            effective.append(None)
    return effective


def next_year_end_instant(now: datetime) -> datetime:
    """The next turn of the year, 1 January 00:00 Indian/Reunion, strictly after ``now``."""
    local = now.astimezone(REUNION)
    return datetime(local.year + 1, 1, 1, tzinfo=REUNION)


def year_to_close(now: datetime) -> int:
    """The most recent calendar year already over at ``now`` (Indian/Reunion)."""
    return business_day(now).year - 1


def utc(dt: datetime) -> datetime:
    return dt.astimezone(UTC)


# ---------------------------------------------------------------------------
# Inventory (B1/C5)
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AssetView:
    """What eligibility and poste counting need from an asset."""

    name: str
    kind: str  # server | workstation | peripheral
    form: str  # physical | virtual
    os: str
    supplied_by: str  # provider | partner | third_party
    partner: str | None = None


def count_postes(assets: Iterable[AssetView]) -> int:
    """B1: every server or workstation, physical or virtual, is a poste."""
    return sum(1 for a in assets if a.kind in COMPUTER_KINDS)


def count_peripherals(assets: Iterable[AssetView]) -> int:
    return sum(1 for a in assets if a.kind == "peripheral")


def runs_windows(os_name: str) -> bool:
    """C3: maintained computers run Microsoft Windows (desktop or server editions)."""
    return re.match(r"^\s*(microsoft\s+)?windows\b", os_name, re.IGNORECASE) is not None


# ---------------------------------------------------------------------------
# Eligibility (C3)
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class NetworkView:
    lan_count: int
    download_mbps: int
    upload_mbps: int


@dataclass(frozen=True)
class Failure:
    criterion: str
    detail: str


@dataclass(frozen=True)
class Eligibility:
    failures: tuple[Failure, ...]

    @property
    def eligible(self) -> bool:
        return not self.failures


CRITERIA = ("postal_code", "single_network", "internet_speed", "asset_supplier", "windows_os")


def evaluate_eligibility(
    *,
    postal_code: str,
    network: NetworkView | None,
    assets: Sequence[AssetView],
    partners: Iterable[str],
) -> Eligibility:
    """C3: evaluate every criterion and list every failure with a readable (French) detail."""
    failures: list[Failure] = []
    if not is_reunion_postal_code(postal_code):
        failures.append(
            Failure(
                "postal_code",
                f"Le cabinet doit être situé à La Réunion (code postal 974xx) ; code postal déclaré : {postal_code}.",
            )
        )
    if network is None:
        failures.append(Failure("single_network", "Le réseau local du cabinet n'est pas déclaré."))
        failures.append(
            Failure("internet_speed", "Les débits de la connexion internet ne sont pas déclarés.")
        )
    else:
        if network.lan_count != 1:
            failures.append(
                Failure(
                    "single_network",
                    f"Le cabinet doit tenir dans un seul et même réseau local ; réseaux déclarés : {network.lan_count}.",
                )
            )
        slow: list[str] = []
        if network.download_mbps < MIN_DOWNLOAD_MBPS:
            slow.append(f"débit descendant {network.download_mbps} Mb/s < {MIN_DOWNLOAD_MBPS} Mb/s")
        if network.upload_mbps < MIN_UPLOAD_MBPS:
            slow.append(f"débit montant {network.upload_mbps} Mb/s < {MIN_UPLOAD_MBPS} Mb/s")
        if slow:
            failures.append(
                Failure(
                    "internet_speed",
                    "Connexion internet insuffisante (débits théoriques déclarés par le FAI) : "
                    + " ; ".join(slow)
                    + ".",
                )
            )
    listed = {p.casefold() for p in partners}
    foreign = [
        a.name
        for a in assets
        if a.supplied_by == "third_party"
        # A partner-supplied asset names a listed partner (an unnamed one proves nothing).
        or (
            a.supplied_by == "partner" and (a.partner is None or a.partner.casefold() not in listed)
        )
    ]
    if foreign:
        failures.append(
            Failure(
                "asset_supplier",
                "Équipements ni vendus ni administrés par le prestataire ou un partenaire référencé : "
                + ", ".join(sorted(foreign))
                + ".",
            )
        )
    not_windows = [a.name for a in assets if a.kind in COMPUTER_KINDS and not runs_windows(a.os)]
    if not_windows:
        failures.append(
            Failure(
                "windows_os",
                "Postes maintenus hors système Microsoft Windows : "
                + ", ".join(sorted(not_windows))
                + ".",
            )
        )
    return Eligibility(tuple(failures))


def uncovered(eligibility: Eligibility, overridden: Collection[str]) -> list[Failure]:
    """C3: the failures no override covers (an override covers one criterion)."""
    return [f for f in eligibility.failures if f.criterion not in overridden]


def is_non_conforming(eligibility: Eligibility, overridden: Collection[str]) -> bool:
    """C4: an active contract whose practice fails a criterion no override covers."""
    return bool(uncovered(eligibility, overridden))


# ---------------------------------------------------------------------------
# Cessation document (C6)
# ---------------------------------------------------------------------------

MAX_DOCUMENT_BYTES = 10 * 1024 * 1024

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "application/pdf"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)


def sniff_document_type(head: bytes) -> str | None:
    """The media type of an official document by its content (magic bytes), or None."""
    for magic, media_type in _MAGIC:
        if head.startswith(magic):
            return media_type
    return None


def renewal_start(year: int) -> date:
    """C2: a renewal covers the whole next calendar year."""
    return date(year + 1, 1, 1)


# ---------------------------------------------------------------------------
# Interventions (C7)
# ---------------------------------------------------------------------------

#: The island's four arrondissements: on-site travel is priced per zone (B9).
ZONES = ("nord", "sud", "est", "ouest")

MAX_INTERVENTION_MINUTES = 24 * 60

_PRICE_CODE = re.compile(r"^[a-z0-9][a-z0-9_]{0,63}$")


@dataclass(frozen=True)
class Billable:
    kind: str  # travel | work
    price_code: str
    quantity: Decimal


def intervention_problems(
    *,
    mode: str,
    zone: str | None,
    billable: Sequence[Billable],
    started_at: datetime,
    now: datetime,
) -> list[tuple[str, str]]:
    """C7: what is wrong with an intervention, as (field, French detail) pairs; empty if fine.

    Remote work on what the contract covers is never billed, but a remote intervention may
    carry out-of-contract work ("sur demande"); travel is only for on-site visits and names
    the zone of the island it is priced by."""
    problems: list[tuple[str, str]] = []
    if started_at > now:
        problems.append(("started_at", "une intervention ne peut pas commencer dans le futur"))
    if zone is not None and zone not in ZONES:
        problems.append(("zone", f"zone inconnue {zone!r} (zones : {', '.join(ZONES)})"))
    travels = [b for b in billable if b.kind == "travel"]
    if travels and mode != "on_site":
        problems.append(
            ("billable", "un déplacement n'est facturé que pour une intervention sur site")
        )
    if travels and zone is None:
        problems.append(("zone", "la zone est requise pour facturer un déplacement"))
    for i, item in enumerate(billable):
        if not _PRICE_CODE.match(item.price_code):
            problems.append((f"billable[{i}].price_code", "code tarifaire invalide"))
        if item.kind == "travel" and item.quantity != item.quantity.to_integral_value():
            problems.append((f"billable[{i}].quantity", "un déplacement se compte en unités"))
    return problems
