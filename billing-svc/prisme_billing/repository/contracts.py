"""SQL: price book (B1), clients, contracts, charges awaiting a price."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from ..domain import Price

# --- price book (B1) ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PriceBook:
    version: int
    created_at: datetime
    created_by: str
    approved_by: str | None
    prices: list[Price]


def _price(row: asyncpg.Record) -> Price:
    return Price(
        offer=row["offer"],
        base_ttc=row["base_ttc"],
        included_postes=row["included_postes"],
        extra_poste_ttc=row["extra_poste_ttc"],
        label=row["label"],
        level=row["level"],
    )


async def current_price_book(conn: asyncpg.Connection) -> PriceBook:
    head = await conn.fetchrow(
        "SELECT version, created_at, created_by, approved_by FROM price_book_versions"
        " ORDER BY version DESC LIMIT 1"
    )
    assert head is not None, "migration 001 seeds version 1"
    rows = await conn.fetch(
        "SELECT * FROM price_book_entries WHERE version = $1 ORDER BY offer, level",
        head["version"],
    )
    return PriceBook(
        head["version"],
        head["created_at"],
        head["created_by"],
        head["approved_by"],
        [_price(r) for r in rows],
    )


async def write_price_book(
    conn: asyncpg.Connection, prices: list[Price], actor: str, approved_by: str | None = None
) -> int:
    """Store ``prices`` as a new version; concurrent writers serialise on the table lock.
    ``actor`` asked for the change, ``approved_by`` approved it (O2)."""
    await conn.execute("LOCK TABLE price_book_versions IN SHARE ROW EXCLUSIVE MODE")
    version: int = await conn.fetchval(
        "INSERT INTO price_book_versions (version, created_by, approved_by)"
        " SELECT coalesce(max(version), 0) + 1, $1, $2 FROM price_book_versions"
        " RETURNING version",
        actor,
        approved_by,
    )
    await conn.executemany(
        "INSERT INTO price_book_entries"
        " (version, offer, level, label, base_ttc, included_postes, extra_poste_ttc)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)",
        [
            (
                version,
                p.offer,
                p.level,
                p.label,
                p.base_ttc,
                p.included_postes,
                p.extra_poste_ttc,
            )
            for p in prices
        ],
    )
    return version


# --- clients and contracts -----------------------------------------------------------------


async def upsert_client(
    conn: asyncpg.Connection, buyer: dict[str, str], client_id: uuid.UUID
) -> None:
    await conn.execute(
        """
        INSERT INTO clients (client_id, name, siren, address_line1, postal_code, city,
                             manager_name, email)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        ON CONFLICT (client_id) DO UPDATE SET
            name = EXCLUDED.name, siren = EXCLUDED.siren, address_line1 = EXCLUDED.address_line1,
            postal_code = EXCLUDED.postal_code, city = EXCLUDED.city,
            manager_name = EXCLUDED.manager_name, email = EXCLUDED.email, updated_at = now()
        -- once corrected (C8), only a newer client.corrected changes the identity
        WHERE clients.identity_version = 0
        """,
        client_id,
        buyer["name"],
        buyer["siren"],
        buyer["line1"],
        buyer["postal_code"],
        buyer["city"],
        buyer["manager_name"],
        buyer["email"],
    )


async def correct_client(
    conn: asyncpg.Connection, buyer: dict[str, str], client_id: uuid.UUID, version: int
) -> bool:
    """C8: apply a corrected identity if ``version`` is newer; ``False`` when stale."""
    row = await conn.fetchrow(
        """
        INSERT INTO clients (client_id, name, siren, address_line1, postal_code, city,
                             manager_name, email, identity_version)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        ON CONFLICT (client_id) DO UPDATE SET
            name = EXCLUDED.name, siren = EXCLUDED.siren, address_line1 = EXCLUDED.address_line1,
            postal_code = EXCLUDED.postal_code, city = EXCLUDED.city,
            manager_name = EXCLUDED.manager_name, email = EXCLUDED.email,
            identity_version = EXCLUDED.identity_version, updated_at = now()
        WHERE clients.identity_version < EXCLUDED.identity_version
        RETURNING client_id
        """,
        client_id,
        buyer["name"],
        buyer["siren"],
        buyer["line1"],
        buyer["postal_code"],
        buyer["city"],
        buyer["manager_name"],
        buyer["email"],
        version,
    )
    return row is not None


async def client(conn: asyncpg.Connection, client_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM clients WHERE client_id = $1", client_id)


async def set_stripe_customer(
    conn: asyncpg.Connection, client_id: uuid.UUID, customer: str
) -> None:
    await conn.execute(
        "UPDATE clients SET stripe_customer_id = $2 WHERE client_id = $1", client_id, customer
    )


async def lock_contract(conn: asyncpg.Connection, contract_id: uuid.UUID) -> asyncpg.Record | None:
    """The contract row, locked: events of one contract are applied one at a time.

    NO KEY UPDATE, so that an approval inserting a document that references the contract (its
    foreign key takes KEY SHARE) does not deadlock with a handler holding the contract."""
    return await conn.fetchrow(
        "SELECT * FROM contracts WHERE contract_id = $1 FOR NO KEY UPDATE", contract_id
    )


async def insert_contract(conn: asyncpg.Connection, **fields: Any) -> None:
    """Insert the contract row (no-op when a concurrent handler already created it)."""
    cols = ", ".join(fields)
    params = ", ".join(f"${i}" for i in range(1, len(fields) + 1))
    await conn.execute(
        f"INSERT INTO contracts ({cols}) VALUES ({params}) ON CONFLICT DO NOTHING",  # noqa: S608
        *fields.values(),
    )


_CONTRACT_COLUMNS = frozenset(
    {
        "client_id",
        "offer",
        "year",
        "start_date",
        "postes",
        "version",
        "status",
        "end_reason",
        "end_effective",
        "activated_seen",
    }
)


async def update_contract(conn: asyncpg.Connection, contract_id: uuid.UUID, **fields: Any) -> None:
    unknown = set(fields) - _CONTRACT_COLUMNS
    if unknown:
        raise ValueError(f"unknown contract columns {sorted(unknown)}")
    sets = ", ".join(f"{name} = ${i}" for i, name in enumerate(fields, start=2))
    await conn.execute(
        f"UPDATE contracts SET {sets}, updated_at = now() WHERE contract_id = $1",  # noqa: S608
        contract_id,
        *fields.values(),
    )


# --- charges awaiting a price (B1) ----------------------------------------------------------


async def insert_charge(conn: asyncpg.Connection, **fields: Any) -> uuid.UUID | None:
    """Record a charge once per ``source_key``; ``None`` when it was already recorded."""
    cols = ", ".join(fields)
    params = ", ".join(f"${i}" for i in range(1, len(fields) + 1))
    value: uuid.UUID | None = await conn.fetchval(
        f"INSERT INTO charges ({cols}) VALUES ({params})"  # noqa: S608
        " ON CONFLICT (source_key) DO NOTHING RETURNING id",
        *fields.values(),
    )
    return value


async def charges_awaiting(
    conn: asyncpg.Connection, keys: list[tuple[str, str]]
) -> list[asyncpg.Record]:
    """Charges still waiting for the price of one of ``keys`` (offer, level)."""
    return await conn.fetch(
        """
        SELECT c.* FROM charges c
        JOIN unnest($1::text[], $2::text[]) AS k(offer, level)
          ON c.offer = k.offer AND c.level = k.level
        WHERE c.status = 'awaiting_price'
        ORDER BY c.created_at FOR UPDATE OF c SKIP LOCKED
        """,
        [k[0] for k in keys],
        [k[1] for k in keys],
    )


async def resolve_charge(
    conn: asyncpg.Connection, charge_id: uuid.UUID, status: str, invoice_id: uuid.UUID | None
) -> None:
    await conn.execute(
        "UPDATE charges SET status = $2, invoice_id = $3, resolved_at = now() WHERE id = $1",
        charge_id,
        status,
        invoice_id,
    )


async def contract_billing(
    conn: asyncpg.Connection, contract_id: uuid.UUID
) -> dict[str, Any] | None:
    """Totals of one contract's documents, its charges waiting for a price, its refunds."""
    contract = await conn.fetchrow("SELECT * FROM contracts WHERE contract_id = $1", contract_id)
    if contract is None:
        return None
    docs = await conn.fetch(
        "SELECT kind, status, total_ttc, amount_paid, amount_refunded FROM documents"
        " WHERE contract_id = $1 AND status <> 'draft'",
        contract_id,
    )
    awaiting = await conn.fetchval(
        "SELECT count(*) FROM charges WHERE contract_id = $1 AND status = 'awaiting_price'",
        contract_id,
    )
    return {"contract": contract, "documents": docs, "awaiting": int(awaiting)}


async def year_end_effects(conn: asyncpg.Connection, year: int) -> asyncpg.Record:
    """For the ended contracts of ``year``: how many, and how many have their billing closed
    (no charge of theirs still waiting for a price, B1), in one statement."""
    row = await conn.fetchrow(
        """
        SELECT count(*) AS contracts_ended,
               count(*) FILTER (WHERE NOT EXISTS (
                   SELECT 1 FROM charges ch
                   WHERE ch.contract_id = c.contract_id AND ch.status = 'awaiting_price'
               )) AS closed
        FROM contracts c WHERE c.year = $1 AND c.status = 'ended'
        """,
        year,
    )
    assert row is not None
    return row
