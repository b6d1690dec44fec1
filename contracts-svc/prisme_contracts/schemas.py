"""Request and response bodies of the contracts-svc HTTP API (DESIGN.md §4).

Kept apart from the database rows and from the event payloads so neither a migration nor a
catalogue change silently alters the public API.

Input models (``_In``) check what a caller sends (storable text, stripped, no extra field);
output models are plain ``BaseModel`` and never reuse an input model: a response built from
rows the service wrote itself must not run the input validators again (P4, DESIGN §8).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from prisme_chassis.wire import BodyBool, BodyInt, DecimalText, IsoDate, IsoDatetime
from pydantic import BaseModel, ConfigDict, Field, model_validator

Role = Literal["practitioner", "assistant", "secretary", "employee"]
Kind = Literal["server", "workstation", "peripheral"]
Form = Literal["physical", "virtual"]
SuppliedBy = Literal["provider", "partner", "third_party"]
Status = Literal["draft", "active", "ended", "cancelled"]
Criterion = Literal[
    "postal_code", "single_network", "internet_speed", "asset_supplier", "windows_os"
]

_Name = Field(min_length=1, max_length=200)


def storable_text(value: str) -> bool:
    """PostgreSQL text holds neither NUL characters nor unpaired surrogates."""
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_text(value: Any) -> None:
    if isinstance(value, str) and not storable_text(value):
        raise ValueError("text must not contain NUL characters or unpaired surrogates")
    if isinstance(value, dict):
        for key, item in value.items():
            _check_text(key)
            _check_text(item)
    elif isinstance(value, list):
        for item in value:
            _check_text(item)


#: What ``storable_text`` keeps, as a pattern: the OpenAPI says it too (R2), on every text field
#: of an input model that has no pattern of its own.
_STORABLE = r"[^\x00\ud800-\udfff]"
#: not blank once stripped; leading blanks first, so that matching stays linear
_SOME_TEXT = rf"^\s*[^\x00\ud800-\udfff\s]{_STORABLE}*$"


def _storable_patterns(schema: dict[str, Any]) -> None:
    for node in schema.get("properties", {}).values():
        _storable_pattern(node)


def _storable_pattern(node: dict[str, Any]) -> None:
    for option in node.get("anyOf", []):
        _storable_pattern(option)
    if isinstance(node.get("items"), dict):
        _storable_pattern(node["items"])
    if node.get("type") == "string" and not {"pattern", "format", "enum", "const"} & set(node):
        # str_strip_whitespace: a required text of blanks only would be empty once stripped
        node["pattern"] = _SOME_TEXT if node.get("minLength", 0) >= 1 else f"^{_STORABLE}*$"


class _In(BaseModel):
    model_config = ConfigDict(
        extra="forbid", str_strip_whitespace=True, json_schema_extra=_storable_patterns
    )

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        _check_text(data)
        return data


class ManagerIn(_In):
    name: str = _Name
    email: str = Field(min_length=3, max_length=254)
    phone: str = Field(min_length=1, max_length=40)


class AddressIn(_In):
    line1: str = _Name
    postal_code: str = Field(min_length=1, max_length=10)
    city: str = _Name


class NewClient(_In):
    name: str = _Name
    siren: str = Field(min_length=1, max_length=20)
    manager: ManagerIn
    address: AddressIn


class ManagerPatch(_In):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    email: str | None = Field(default=None, min_length=3, max_length=254)
    phone: str | None = Field(default=None, min_length=1, max_length=40)


class AddressPatch(_In):
    line1: str | None = Field(default=None, min_length=1, max_length=200)
    postal_code: str | None = Field(default=None, min_length=1, max_length=10)
    city: str | None = Field(default=None, min_length=1, max_length=200)


class ClientPatch(_In):
    """C8: correct a practice's identity; only the fields given change."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    siren: str | None = Field(default=None, min_length=1, max_length=20)
    manager: ManagerPatch | None = None
    address: AddressPatch | None = None


class ManagerOut(BaseModel):
    name: str
    email: str
    phone: str


class AddressOut(BaseModel):
    line1: str
    postal_code: str
    city: str


class ClientOut(BaseModel):
    id: uuid.UUID
    name: str
    siren: str
    manager: ManagerOut
    address: AddressOut
    created_at: datetime


class AmendmentIn(_In):
    """Optional facts of the technician intervention an inventory change records (C5)."""

    effective_date: IsoDate | None = Field(
        default=None, description="Defaults to today (Indian/Reunion)"
    )
    note: str | None = Field(default=None, max_length=2000, description="What the technician did")


class NewUser(AmendmentIn):
    first_name: str = _Name
    last_name: str = _Name
    email: str = Field(min_length=3, max_length=254)
    role: Role


class UserOut(BaseModel):
    id: uuid.UUID
    client_id: uuid.UUID
    first_name: str
    last_name: str
    email: str
    role: Role
    created_at: datetime


class NetworkIn(_In):
    lan_count: BodyInt = Field(ge=0, le=1000)
    download_mbps: BodyInt = Field(ge=0, le=1_000_000)
    upload_mbps: BodyInt = Field(ge=0, le=1_000_000)


class NetworkOut(BaseModel):
    lan_count: int
    download_mbps: int
    upload_mbps: int
    updated_at: datetime


class NewAsset(AmendmentIn):
    name: str = _Name
    function: str = _Name
    kind: Kind
    form: Form
    os: str = Field(min_length=1, max_length=200)
    supplied_by: SuppliedBy
    partner: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="When supplied_by=partner: which listed partner",
    )


class AssetOut(BaseModel):
    id: uuid.UUID
    client_id: uuid.UUID
    name: str
    function: str
    kind: Kind
    form: Form
    os: str
    supplied_by: SuppliedBy
    partner: str | None
    created_at: datetime


class ChangeOut(BaseModel):
    """Where an inventory change led (C5): the amendments it recorded, if a contract is active."""

    intervention_id: uuid.UUID | None
    amendments: list[uuid.UUID]


class AssetChanged(AssetOut):
    amendment: ChangeOut


class UserChanged(UserOut):
    amendment: ChangeOut


class Removed(BaseModel):
    id: uuid.UUID
    removed: bool
    amendment: ChangeOut


class FailureOut(BaseModel):
    criterion: str
    detail: str


class OverrideOut(BaseModel):
    id: uuid.UUID
    criterion: str
    reason: str
    created_by: str
    created_at: datetime
    expires_at: datetime | None


class EligibilityOut(BaseModel):
    eligible: bool = Field(
        description="True when every criterion passes or an override is recorded"
    )
    criteria_met: bool = Field(description="True when every criterion passes (override ignored)")
    failures: list[FailureOut]
    overridden: bool = Field(description="True when an override covers at least one failure")
    overrides: list[OverrideOut] = Field(description="Overrides in force, one per criterion")


class OverrideIn(_In):
    """C3: an explicit, audited override of one failed criterion."""

    criterion: Criterion
    reason: str = Field(min_length=3, max_length=2000)
    expires_at: IsoDatetime | None = Field(default=None, description="Optional end of validity")


class PartnerIn(_In):
    name: str = _Name
    services: list[str] = Field(default_factory=list, max_length=50)


class ItemOut(BaseModel):
    code: str
    label: str


class OfferOut(BaseModel):
    code: str
    label: str
    includes: list[str] = Field(description="Catalogue item codes, as carried by contract.* events")
    items: list[ItemOut] = Field(description="The same items with their French label")


class NewContract(_In):
    client_id: uuid.UUID
    offer: str = Field(min_length=1, max_length=50)
    level: str | None = Field(
        default=None,
        min_length=1,
        max_length=50,
        description="Maintenance level; default one if omitted",
    )
    start_date: IsoDate


class RenewIn(_In):
    offer: str | None = Field(default=None, min_length=1, max_length=50)


class ContractOut(BaseModel):
    id: uuid.UUID
    client_id: uuid.UUID
    offer: str
    level: str = Field(description="Maintenance level (niveau de prise en charge)")
    includes: list[str]
    status: Status
    year: int
    start_date: date
    end_date: date
    ends_at: datetime
    version: int
    non_conforming: bool
    renewal_of: uuid.UUID | None
    created_by: str
    created_at: datetime
    activated_at: datetime | None
    end_reason: Literal["year_end", "cessation"] | None
    ended_on: date | None
    ended_at: datetime | None


class AmendmentOut(BaseModel):
    id: uuid.UUID
    contract_id: uuid.UUID
    effective_date: date
    changes: list[dict[str, Any]]
    postes_before: int
    postes_after: int
    version: int
    intervention_id: uuid.UUID
    technician: str
    performed_at: datetime
    description: str


class TerminationOut(BaseModel):
    id: uuid.UUID
    contract_id: uuid.UUID
    reason: Literal["cessation"]
    effective_date: date
    status: Literal["pending", "approved", "rejected", "withdrawn"]
    scheduled: bool = Field(
        description="Approved with a future effective date: the contract ends on that day"
    )
    document_type: str
    document_name: str | None
    document_size: int
    document_sha256: str
    requested_by: str
    requested_at: datetime
    approved_by: str | None
    approved_at: datetime | None
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str | None
    applied_at: datetime | None = Field(description="When the contract actually ended")


class DecisionIn(_In):
    """O2/O3: a decision on a four-eyes request always says why."""

    note: str = Field(min_length=1, max_length=2000)


class YearEndIn(_In):
    year: BodyInt = Field(ge=2000, le=2999)


class YearEndOut(BaseModel):
    year: int
    status: Literal["not_started", "running", "done"]
    started_by: str | None
    started_at: datetime | None
    finished_at: datetime | None
    ended: int = Field(description="Contracts ended by this run so far")
    remaining: int = Field(description="Active contracts of the year still to end")
    batches: int
    ended_total: int = Field(
        description="Contracts of the year ended so far, by this run or by a cessation (C6): "
        "as many contract.ended as each consumer of the year has to process (issue 12)"
    )


class BillableIn(_In):
    """A billable item of an intervention (C7), priced by billing from its price book (B9)."""

    kind: Literal["travel", "work"]
    quantity: Annotated[
        Decimal,
        Field(gt=0, le=1000, decimal_places=2, description="Trips or hours"),
        DecimalText(maximum=1000, positive=True),
    ]
    price_code: str = Field(min_length=1, max_length=64, description="Price-book code")


class InterventionIn(_In):
    technician: str = Field(min_length=1, max_length=200, description="Who intervened")
    started_at: IsoDatetime
    duration_minutes: BodyInt = Field(gt=0, le=24 * 60)
    mode: Literal["remote", "on_site"]
    zone: str | None = Field(default=None, max_length=20, description="nord | sud | est | ouest")
    summary: str = Field(min_length=1, max_length=4000, description="What was done")
    billable: list[BillableIn] = Field(default_factory=list, max_length=20)
    video_id: uuid.UUID | None = None


class BillableOut(BaseModel):
    kind: str
    quantity: Decimal
    price_code: str


class InterventionOut(BaseModel):
    id: uuid.UUID
    client_id: uuid.UUID
    contract_id: uuid.UUID | None
    kind: Literal["inventory", "service"]
    technician: str
    started_at: datetime
    duration_minutes: int | None
    mode: Literal["remote", "on_site"] | None
    zone: str | None
    summary: str
    billable: list[BillableOut]
    video_id: uuid.UUID | None
    recorded_by: str | None
    recorded_at: datetime


class InterventionPage(BaseModel):
    items: list[InterventionOut]
    next_cursor: str | None = Field(description="Pass as ``cursor`` for the next page")


_Code = Field(min_length=1, max_length=50, pattern=r"^[a-z][a-z0-9_]*$")


class OfferIn(_In):
    """C1: an offer and the catalogue items it includes (admin)."""

    code: str = _Code
    label: str = _Name
    includes: list[str] = Field(min_length=1, max_length=50)


class OfferPatch(_In):
    label: str | None = Field(default=None, min_length=1, max_length=200)
    includes: list[str] | None = Field(default=None, min_length=1, max_length=50)


class LevelIn(_In):
    code: str = _Code
    label: str = _Name
    description: str = Field(default="", max_length=2000)


class LevelPatch(_In):
    label: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    is_default: BodyBool | None = None


class LevelOut(BaseModel):
    code: str
    label: str
    description: str
    is_default: bool


class PartnerServicesIn(_In):
    services: list[str] = Field(max_length=50, description="What the partner provides")


class PartnerOut(BaseModel):
    name: str
    services: list[str]
    created_by: str
    created_at: datetime
