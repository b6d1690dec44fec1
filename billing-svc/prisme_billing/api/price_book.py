"""Routes reading the price book (B1) and checking an (offer, level) is priced."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query
from prisme_chassis.app import Tx
from prisme_chassis.auth import Principal, require_scopes
from prisme_chassis.money import money_str
from prisme_chassis.wire import BodyInt, DecimalText
from pydantic import BaseModel, Field

from .. import domain
from .. import repository as repo

router = APIRouter(tags=["billing"])


# money in: a decimal string (DESIGN §4) whose pattern the OpenAPI states (R2)
Money = Annotated[
    Decimal, Field(ge=0, le=Decimal("1000000"), decimal_places=2), DecimalText(maximum=1_000_000)
]


Code = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$")]


class PriceIn(BaseModel):
    offer: Code
    level: Code = Field(
        default=domain.DEFAULT_LEVEL,
        description="Maintenance level (contracts-svc's catalogue); standard = PRISME's "
        "published price (B1)",
    )
    label: str = Field(min_length=1, max_length=200)
    base_ttc: Money
    included_postes: BodyInt = Field(ge=0, le=10_000)
    extra_poste_ttc: Money


class PriceOut(BaseModel):
    offer: str
    level: str
    label: str
    base_ttc: str
    included_postes: int
    extra_poste_ttc: str
    currency: str = "EUR"


class PriceBookIn(BaseModel):
    """The whole new price book, and why (O2: applied when another operator approves)."""

    prices: list[PriceIn] = Field(max_length=200)
    reason: str = Field(min_length=3, max_length=500)

    def to_domain(self) -> list[domain.Price]:
        return [
            domain.Price(
                p.offer, p.base_ttc, p.included_postes, p.extra_poste_ttc, p.label, p.level
            )
            for p in self.prices
        ]


class PriceBookOut(BaseModel):
    version: int
    created_at: datetime
    created_by: str = Field(description="Who asked for this version")
    approved_by: str | None = Field(description="Who approved it (O2); none for the seed")
    prices: list[PriceOut]


def _book(book: repo.PriceBook) -> PriceBookOut:
    return PriceBookOut(
        version=book.version,
        created_at=book.created_at,
        created_by=book.created_by,
        approved_by=book.approved_by,
        prices=[
            PriceOut(
                offer=p.offer,
                level=p.level,
                label=p.label,
                base_ttc=money_str(p.base_ttc),
                included_postes=p.included_postes,
                extra_poste_ttc=money_str(p.extra_poste_ttc),
            )
            for p in book.prices
        ],
    )


@router.get("/v1/price-book")
async def get_price_book(conn: Tx, who: Principal = require_scopes("billing:read")) -> PriceBookOut:
    return _book(await repo.current_price_book(conn))


class PriceCheckOut(BaseModel):
    offer: str
    level: str
    priced: bool
    price_book_version: int
    label: str | None = None
    missing_price: str | None = Field(
        default=None, description="What is missing, in French, when (offer, level) has no price"
    )


@router.get("/v1/price-book/check")
async def check_price(
    conn: Tx,
    offer: Annotated[str, Query(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$")],
    level: Annotated[
        str, Query(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$")
    ] = domain.DEFAULT_LEVEL,
    who: Principal = require_scopes("billing:read"),
) -> PriceCheckOut:
    """B1: contracts-svc asks this before activating a contract: an (offer, level) the
    current price book does not price cannot be invoiced, so its activation is refused."""
    book = await repo.current_price_book(conn)
    price = next((p for p in book.prices if p.key == (offer, level)), None)
    if price is None:
        return PriceCheckOut(
            offer=offer,
            level=level,
            priced=False,
            price_book_version=book.version,
            missing_price=(
                f"prix annuel TTC de l'offre « {offer} » au niveau « {level} » "
                "(forfait et prix par poste)"
            ),
        )
    return PriceCheckOut(
        offer=offer, level=level, priced=True, price_book_version=book.version, label=price.label
    )
