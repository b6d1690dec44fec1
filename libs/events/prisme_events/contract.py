"""Events published by contracts-svc (stream CONTRACTS, subjects ``contract.>``)."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from .base import Event

Role = Literal["practitioner", "assistant", "secretary", "employee"]
Offer = str  # catalogue code: "prisme" | "sav_sauvegarde" (C1); data, not an enum


class _Fact(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Address(_Fact):
    line1: str
    postal_code: str
    city: str


class Manager(_Fact):
    name: str
    email: str
    phone: str


class ClientSnapshot(_Fact):
    """The practice as it stood when the event happened (buyer identity for invoices)."""

    client_id: uuid.UUID
    name: str
    siren: str
    address: Address
    manager: Manager


class ContractUser(_Fact):
    """A user of the practice covered by the contract. ``user_id`` is stable across years."""

    user_id: uuid.UUID
    first_name: str
    last_name: str
    email: str
    role: Role


class ContractEvent(Event):
    """Common facts of every ``contract.*`` event."""

    source: ClassVar[str] = "contracts-svc"

    contract_id: uuid.UUID
    client_id: uuid.UUID
    version: int = Field(ge=1, description="The contract's version after this change")
    offer: Offer
    includes: list[str] = Field(
        description="Catalogue items the offer includes (C1), e.g. microsoft_365"
    )
    year: int

    def aggregate_id(self) -> str:
        return str(self.contract_id)


class ContractActivated(ContractEvent):
    """A contract became active for its calendar year (C2). Billing invoices it (B2),
    licence-svc provisions Microsoft 365 (L1), backup-svc creates the plan (K1),
    video-svc allows links until ``ends_at`` (V3)."""

    subject: ClassVar[str] = "contract.activated"
    schema_version: ClassVar[int] = 2  # v2: ``level``

    level: str = Field(
        default="standard", description="Maintenance level, which the price depends on (B1)"
    )

    client: ClientSnapshot
    start_date: date
    end_date: date = Field(description="Always 31 December of ``year``")
    ends_at: AwareDatetime = Field(description="31 December 23:59:59 Indian/Reunion")
    postes: int = Field(ge=0, description="Servers and workstations, physical or virtual (B1)")
    peripherals: int = Field(ge=0)
    users: list[ContractUser]
    renewal_of: uuid.UUID | None = Field(default=None, description="The previous year's contract")


class AssetFact(_Fact):
    asset_id: uuid.UUID
    name: str
    function: str
    kind: Literal["server", "workstation", "peripheral"]
    form: Literal["physical", "virtual"]
    os: str
    supplied_by: Literal["provider", "partner", "third_party"]


class Change(_Fact):
    """One change of an amendment (C5)."""

    target: Literal["asset", "user"]
    action: Literal["added", "removed", "changed"]
    id: uuid.UUID
    asset: AssetFact | None = None
    user: ContractUser | None = None


class ContractAmended(ContractEvent):
    """The fixed inventory or the users of an active contract changed (C5). Adding postes is
    invoiced from ``effective_date`` (B4); users added/removed are (de)provisioned (L2)."""

    subject: ClassVar[str] = "contract.amended"
    schema_version: ClassVar[int] = 2  # v2: ``level``

    level: str = Field(default="standard", description="Maintenance level (B1, B4)")

    amendment_id: uuid.UUID
    intervention_id: uuid.UUID
    effective_date: date
    changes: list[Change]
    postes_before: int = Field(ge=0)
    postes: int = Field(ge=0)
    peripherals: int = Field(ge=0)
    users_added: list[ContractUser] = Field(default_factory=list)
    users_removed: list[uuid.UUID] = Field(default_factory=list)
    client: ClientSnapshot


class ContractEnded(ContractEvent):
    """A contract ended: at year-end (C2) or early for proven cessation (C6).

    ``renewal_contract_id`` is set when the client already has an active or signed contract for
    the next year; ``renewal_includes`` says what it includes (L3 carry-over)."""

    subject: ClassVar[str] = "contract.ended"

    reason: Literal["year_end", "cessation"]
    effective_date: date = Field(description="Last day covered")
    ended_at: AwareDatetime
    postes: int = Field(ge=0)
    renewal_contract_id: uuid.UUID | None = None
    renewal_includes: list[str] = Field(default_factory=list)


class ContractCancelled(ContractEvent):
    """A contract that was never active stopped: an operator cancelled its draft, or the draft
    expired unactivated at its year's end (C8). What was carried over for it (L3: Microsoft 365
    accounts, the backup plan) stops now, as it would have at ``contract.ended``."""

    subject: ClassVar[str] = "contract.cancelled"

    reason: Literal["withdrawn", "expired"] = Field(
        description="``withdrawn``: an operator cancelled the draft; ``expired``: its year ended"
    )
    cancelled_at: AwareDatetime
    renewal_of: uuid.UUID | None = Field(
        default=None, description="The previous year's contract this draft was renewing"
    )


class EligibilityFailure(_Fact):
    criterion: str
    detail: str


class ContractEligibilityChanged(ContractEvent):
    """Eligibility of an active contract's practice changed (C3/C4). Never ends a contract."""

    subject: ClassVar[str] = "contract.eligibility_changed"

    eligible: bool
    non_conforming: bool
    failures: list[EligibilityFailure]
    overridden: bool = False


class ClientCorrected(Event):
    """A practice's identity was corrected (C8): name, SIREN, address or manager. Documents
    already finalised keep the identity they were issued with; later ones, and the payment
    provider's customer record, use this one."""

    subject: ClassVar[str] = "client.corrected"
    source: ClassVar[str] = "contracts-svc"

    client: ClientSnapshot
    version: int = Field(ge=1, description="The client's version after this correction")
    changed: list[str] = Field(description="The fields changed, e.g. address.postal_code")

    def aggregate_id(self) -> str:
        return str(self.client.client_id)


class BillableItem(_Fact):
    """One billable line of an intervention (C7, B9), priced by billing from the price book."""

    kind: Literal["travel", "work"] = Field(
        description="``travel``: on-site travel (flat fee per zone); ``work``: out-of-contract work"
    )
    price_code: str = Field(description="Price-book code, e.g. ``deplacement_sud``")
    quantity: Decimal = Field(gt=0, description="Units of the price code (trips, hours, forfaits)")
    zone: str | None = Field(default=None, description="Zone of the island, for travel")


class InterventionRecorded(Event):
    """A technician's intervention at a practice was recorded (C7). Remote work on what the
    contract covers bills nothing (no ``billable`` item); billing invoices the billable items at
    the end of the month of ``started_at`` (B9)."""

    subject: ClassVar[str] = "intervention.recorded"
    source: ClassVar[str] = "contracts-svc"

    intervention_id: uuid.UUID
    client_id: uuid.UUID
    contract_id: uuid.UUID | None = Field(
        default=None, description="The active contract covering the intervention, if any"
    )
    version: int = Field(default=1, ge=1, description="The intervention's version (1: recorded)")
    started_at: AwareDatetime
    duration_minutes: int = Field(gt=0)
    mode: Literal["remote", "on_site"]
    billable: list[BillableItem] = Field(default_factory=list)

    def aggregate_id(self) -> str:
        return str(self.intervention_id)
