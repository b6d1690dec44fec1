"""All SQL of contracts-svc. Functions take the caller's connection (the edge owns the transaction).

Queries are assembled only from constant column lists and allow-listed column names; every
value travels as a bind parameter.
"""

# ruff: noqa: S608

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import asyncpg
from prisme_chassis.audit import Actor

Row = asyncpg.Record

# Advisory-lock namespace for a contract year: activation takes it shared, the year-end run
# takes it exclusively while it opens the run, so no contract is activated into a closed year.
_YEAR_LOCK = 0x434F_4E54  # "CONT"


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, uuid.UUID | date | datetime):
        return str(value) if isinstance(value, uuid.UUID) else value.isoformat()
    return value


# --- offers and partners -------------------------------------------------------------


async def list_offers(conn: asyncpg.Connection) -> list[Row]:
    return await conn.fetch("SELECT code, label, includes FROM offers ORDER BY position, code")


async def catalogue_labels(conn: asyncpg.Connection) -> dict[str, str]:
    return {
        r["code"]: r["label"] for r in await conn.fetch("SELECT code, label FROM catalogue_items")
    }


async def get_offer(conn: asyncpg.Connection, code: str) -> Row | None:
    return await conn.fetchrow("SELECT code, label, includes FROM offers WHERE code = $1", code)


async def list_partners(conn: asyncpg.Connection) -> list[str]:
    return [r["name"] for r in await conn.fetch("SELECT name FROM partners ORDER BY name")]


async def list_partner_rows(conn: asyncpg.Connection) -> list[Row]:
    return await conn.fetch(
        "SELECT name, services, created_by, created_at FROM partners ORDER BY name"
    )


async def get_partner(conn: asyncpg.Connection, name: str) -> Row | None:
    return await conn.fetchrow(
        "SELECT name, services, created_by, created_at FROM partners WHERE name = $1 FOR UPDATE",
        name,
    )


async def insert_partner(
    conn: asyncpg.Connection, name: str, services: Sequence[str], actor: str
) -> bool:
    status = await conn.execute(
        "INSERT INTO partners (name, services, created_by) VALUES ($1, $2, $3)"
        " ON CONFLICT DO NOTHING",
        name,
        list(services),
        actor,
    )
    return status.endswith(" 1")


async def set_partner_services(
    conn: asyncpg.Connection, name: str, services: Sequence[str]
) -> None:
    await conn.execute("UPDATE partners SET services = $2 WHERE name = $1", name, list(services))


# --- catalogue as data (C1) ---------------------------------------------------------------


async def catalogue_codes(conn: asyncpg.Connection) -> set[str]:
    return {r["code"] for r in await conn.fetch("SELECT code FROM catalogue_items")}


async def insert_offer(
    conn: asyncpg.Connection, code: str, label: str, includes: Sequence[str]
) -> bool:
    status = await conn.execute(
        "INSERT INTO offers (code, label, includes, position)"
        " SELECT $1, $2, $3, coalesce(max(position), 0) + 1 FROM offers"
        " ON CONFLICT DO NOTHING",
        code,
        label,
        list(includes),
    )
    return status.endswith(" 1")


async def update_offer(
    conn: asyncpg.Connection, code: str, label: str, includes: Sequence[str]
) -> None:
    await conn.execute(
        "UPDATE offers SET label = $2, includes = $3 WHERE code = $1", code, label, list(includes)
    )


async def list_levels(conn: asyncpg.Connection) -> list[Row]:
    return await conn.fetch(
        "SELECT code, label, description, is_default FROM maintenance_levels"
        " ORDER BY position, code"
    )


async def get_level(conn: asyncpg.Connection, code: str) -> Row | None:
    return await conn.fetchrow(
        "SELECT code, label, description, is_default FROM maintenance_levels WHERE code = $1",
        code,
    )


async def default_level(conn: asyncpg.Connection) -> str:
    code = await conn.fetchval("SELECT code FROM maintenance_levels WHERE is_default")
    assert code is not None, "migration 006 seeds a default level"
    return str(code)


async def insert_level(conn: asyncpg.Connection, code: str, label: str, description: str) -> bool:
    status = await conn.execute(
        "INSERT INTO maintenance_levels (code, label, description, position)"
        " SELECT $1, $2, $3, coalesce(max(position), 0) + 1 FROM maintenance_levels"
        " ON CONFLICT DO NOTHING",
        code,
        label,
        description,
    )
    return status.endswith(" 1")


async def update_level(
    conn: asyncpg.Connection, code: str, label: str, description: str, is_default: bool
) -> None:
    if is_default:
        await conn.execute(
            "UPDATE maintenance_levels SET is_default = false WHERE code <> $1", code
        )
    await conn.execute(
        "UPDATE maintenance_levels SET label = $2, description = $3,"
        " is_default = is_default OR $4 WHERE code = $1",
        code,
        label,
        description,
        is_default,
    )


async def delete_partner(conn: asyncpg.Connection, name: str) -> bool:
    status = await conn.execute("DELETE FROM partners WHERE name = $1", name)
    return status.endswith(" 1")


async def clients_with_partner_assets(conn: asyncpg.Connection, partner: str) -> list[uuid.UUID]:
    rows = await conn.fetch(
        "SELECT DISTINCT client_id FROM assets WHERE removed_at IS NULL AND lower(partner) = lower($1)",
        partner,
    )
    return [r["client_id"] for r in rows]


# --- clients ----------------------------------------------------------------------------

_CLIENT_COLS = "id, name, siren, manager_name, manager_email, manager_phone, line1, postal_code, city, created_at"


async def insert_client(conn: asyncpg.Connection, values: dict[str, Any]) -> Row:
    row = await conn.fetchrow(
        f"INSERT INTO clients ({_CLIENT_COLS.removesuffix(', created_at')})"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        f" RETURNING {_CLIENT_COLS}",
        values["id"],
        values["name"],
        values["siren"],
        values["manager_name"],
        values["manager_email"],
        values["manager_phone"],
        values["line1"],
        values["postal_code"],
        values["city"],
    )
    assert row is not None
    return row


_CLIENT_FIELDS = (
    "name",
    "siren",
    "manager_name",
    "manager_email",
    "manager_phone",
    "line1",
    "postal_code",
    "city",
)


async def update_client(
    conn: asyncpg.Connection, client_id: uuid.UUID, fields: dict[str, Any]
) -> Row:
    """C8: change the given identity columns of a practice."""
    unknown = set(fields) - set(_CLIENT_FIELDS)
    if unknown:
        raise ValueError(f"not updatable: {sorted(unknown)}")
    names = sorted(fields)
    sets = ", ".join(f"{n} = ${i + 2}" for i, n in enumerate(names))
    row = await conn.fetchrow(
        f"UPDATE clients SET {sets} WHERE id = $1 RETURNING {_CLIENT_COLS}",
        client_id,
        *(fields[n] for n in names),
    )
    assert row is not None
    return row


async def get_client(
    conn: asyncpg.Connection, client_id: uuid.UUID, *, lock: bool = False
) -> Row | None:
    sql = f"SELECT {_CLIENT_COLS} FROM clients WHERE id = $1"
    return await conn.fetchrow(sql + (" FOR UPDATE" if lock else ""), client_id)


def _like(text: str) -> str:
    """``text`` as a literal ILIKE pattern found anywhere (its wildcards escaped)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def list_clients(
    conn: asyncpg.Connection,
    limit: int,
    offset: int,
    *,
    q: str | None = None,
    ids: list[uuid.UUID] | None = None,
) -> list[Row]:
    """Oldest first; ``q`` finds a practice by name, SIREN, city or a current user's e-mail
    (case-insensitive, anywhere in the text); ``ids`` keeps only those practices."""
    pattern = _like(q.strip()) if q and q.strip() else None
    digits = "".join(ch for ch in q if ch.isdigit()) if q else ""
    return await conn.fetch(
        f"SELECT {_CLIENT_COLS} FROM clients c"
        " WHERE ($3::text IS NULL OR c.name ILIKE $3 OR c.city ILIKE $3"
        "   OR ($4::text <> '' AND c.siren LIKE $4 || '%')"
        "   OR EXISTS (SELECT 1 FROM client_users u WHERE u.client_id = c.id"
        "     AND u.removed_at IS NULL AND u.email ILIKE $3))"
        " AND ($5::uuid[] IS NULL OR c.id = ANY($5))"
        " ORDER BY c.created_at, c.id LIMIT $1 OFFSET $2",
        limit,
        offset,
        pattern,
        digits if len(digits) >= 3 else "",
        ids,
    )


# --- users ------------------------------------------------------------------------------

_USER_COLS = "id, client_id, first_name, last_name, email, role, created_at"


async def insert_user(conn: asyncpg.Connection, values: dict[str, Any]) -> Row:
    row = await conn.fetchrow(
        "INSERT INTO client_users (id, client_id, first_name, last_name, email, role)"
        f" VALUES ($1, $2, $3, $4, $5, $6) RETURNING {_USER_COLS}",
        values["id"],
        values["client_id"],
        values["first_name"],
        values["last_name"],
        values["email"],
        values["role"],
    )
    assert row is not None
    return row


async def get_user(
    conn: asyncpg.Connection, client_id: uuid.UUID, user_id: uuid.UUID
) -> Row | None:
    return await conn.fetchrow(
        f"SELECT {_USER_COLS} FROM client_users"
        " WHERE client_id = $1 AND id = $2 AND removed_at IS NULL",
        client_id,
        user_id,
    )


async def list_users(conn: asyncpg.Connection, client_id: uuid.UUID) -> list[Row]:
    return await conn.fetch(
        f"SELECT {_USER_COLS} FROM client_users"
        " WHERE client_id = $1 AND removed_at IS NULL ORDER BY created_at, id",
        client_id,
    )


async def update_user(conn: asyncpg.Connection, user_id: uuid.UUID, values: dict[str, Any]) -> Row:
    row = await conn.fetchrow(
        "UPDATE client_users SET first_name = $2, last_name = $3, email = $4, role = $5"
        f" WHERE id = $1 RETURNING {_USER_COLS}",
        user_id,
        values["first_name"],
        values["last_name"],
        values["email"],
        values["role"],
    )
    assert row is not None
    return row


async def remove_user(conn: asyncpg.Connection, user_id: uuid.UUID) -> None:
    await conn.execute("UPDATE client_users SET removed_at = now() WHERE id = $1", user_id)


# --- network ----------------------------------------------------------------------------


async def get_network(conn: asyncpg.Connection, client_id: uuid.UUID) -> Row | None:
    return await conn.fetchrow(
        "SELECT lan_count, download_mbps, upload_mbps, updated_at FROM networks WHERE client_id = $1",
        client_id,
    )


async def upsert_network(
    conn: asyncpg.Connection, client_id: uuid.UUID, lan: int, down: int, up: int
) -> Row:
    row = await conn.fetchrow(
        "INSERT INTO networks (client_id, lan_count, download_mbps, upload_mbps) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (client_id) DO UPDATE SET lan_count = EXCLUDED.lan_count,"
        " download_mbps = EXCLUDED.download_mbps, upload_mbps = EXCLUDED.upload_mbps, updated_at = now()"
        " RETURNING lan_count, download_mbps, upload_mbps, updated_at",
        client_id,
        lan,
        down,
        up,
    )
    assert row is not None
    return row


# --- assets -----------------------------------------------------------------------------

_ASSET_COLS = "id, client_id, name, function, kind, form, os, supplied_by, partner, created_at"


async def insert_asset(conn: asyncpg.Connection, values: dict[str, Any]) -> Row:
    row = await conn.fetchrow(
        "INSERT INTO assets (id, client_id, name, function, kind, form, os, supplied_by, partner)"
        f" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {_ASSET_COLS}",
        values["id"],
        values["client_id"],
        values["name"],
        values["function"],
        values["kind"],
        values["form"],
        values["os"],
        values["supplied_by"],
        values["partner"],
    )
    assert row is not None
    return row


async def get_asset(
    conn: asyncpg.Connection, client_id: uuid.UUID, asset_id: uuid.UUID
) -> Row | None:
    return await conn.fetchrow(
        f"SELECT {_ASSET_COLS} FROM assets WHERE client_id = $1 AND id = $2 AND removed_at IS NULL",
        client_id,
        asset_id,
    )


async def list_assets(conn: asyncpg.Connection, client_id: uuid.UUID) -> list[Row]:
    return await conn.fetch(
        f"SELECT {_ASSET_COLS} FROM assets"
        " WHERE client_id = $1 AND removed_at IS NULL ORDER BY created_at, id",
        client_id,
    )


async def update_asset(
    conn: asyncpg.Connection, asset_id: uuid.UUID, values: dict[str, Any]
) -> Row:
    row = await conn.fetchrow(
        "UPDATE assets SET name = $2, function = $3, kind = $4, form = $5, os = $6,"
        f" supplied_by = $7, partner = $8 WHERE id = $1 RETURNING {_ASSET_COLS}",
        asset_id,
        values["name"],
        values["function"],
        values["kind"],
        values["form"],
        values["os"],
        values["supplied_by"],
        values["partner"],
    )
    assert row is not None
    return row


async def remove_asset(conn: asyncpg.Connection, asset_id: uuid.UUID) -> None:
    await conn.execute("UPDATE assets SET removed_at = now() WHERE id = $1", asset_id)


# --- eligibility overrides -------------------------------------------------------------


_OVERRIDE_COLS = "id, criterion, reason, created_by, created_at, expires_at"


async def active_overrides(
    conn: asyncpg.Connection, client_id: uuid.UUID, now: datetime | None = None
) -> list[Row]:
    """The client's overrides in force: not revoked and not lapsed (the expiry worker lapses
    them on the clock), and, when ``now`` is given, not past their expiry either."""
    return await conn.fetch(
        f"SELECT {_OVERRIDE_COLS} FROM eligibility_overrides"
        " WHERE client_id = $1 AND revoked_at IS NULL AND lapsed_at IS NULL"
        " AND ($2::timestamptz IS NULL OR expires_at IS NULL OR expires_at > $2)"
        " ORDER BY criterion",
        client_id,
        now,
    )


async def get_override(
    conn: asyncpg.Connection, client_id: uuid.UUID, criterion: str
) -> Row | None:
    """The live (not revoked, not lapsed) override of one criterion, locked."""
    return await conn.fetchrow(
        f"SELECT {_OVERRIDE_COLS} FROM eligibility_overrides"
        " WHERE client_id = $1 AND criterion = $2 AND revoked_at IS NULL AND lapsed_at IS NULL"
        " FOR UPDATE",
        client_id,
        criterion,
    )


async def insert_override(
    conn: asyncpg.Connection,
    client_id: uuid.UUID,
    criterion: str,
    reason: str,
    expires_at: datetime | None,
    actor: str,
) -> Row:
    row = await conn.fetchrow(
        "INSERT INTO eligibility_overrides (id, client_id, criterion, reason, expires_at, created_by)"
        f" VALUES ($1, $2, $3, $4, $5, $6) RETURNING {_OVERRIDE_COLS}",
        uuid.uuid4(),
        client_id,
        criterion,
        reason,
        expires_at,
        actor,
    )
    assert row is not None
    return row


async def revoke_override(conn: asyncpg.Connection, override_id: uuid.UUID, actor: str) -> None:
    await conn.execute(
        "UPDATE eligibility_overrides SET revoked_at = now(), revoked_by = $2 WHERE id = $1",
        override_id,
        actor,
    )


async def lapse_expired_overrides(
    conn: asyncpg.Connection, now: datetime, limit: int = 100
) -> list[Row]:
    """Mark the overrides whose expiry has passed; their clients must be re-checked (C4)."""
    return await conn.fetch(
        "UPDATE eligibility_overrides SET lapsed_at = $1 WHERE id IN ("
        " SELECT id FROM eligibility_overrides WHERE revoked_at IS NULL AND lapsed_at IS NULL"
        " AND expires_at <= $1 ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)"
        " RETURNING id, client_id, criterion",
        now,
        limit,
    )


# --- contracts ----------------------------------------------------------------------------

_CONTRACT_COLS = (
    "c.id, c.client_id, c.offer, c.year, c.start_date, c.end_date, c.status, c.version,"
    " c.non_conforming, c.renewal_of, c.created_by, c.created_at, c.activated_at, c.end_reason,"
    " c.ended_on, c.ended_at, c.updated_at, c.level"
)


async def insert_contract(conn: asyncpg.Connection, values: dict[str, Any]) -> Row:
    row = await conn.fetchrow(
        "INSERT INTO contracts AS c (id, client_id, offer, year, start_date, end_date, status, version,"
        " renewal_of, created_by, level) VALUES ($1, $2, $3, $4, $5, $6, 'draft', 1, $7, $8, $9)"
        f" RETURNING {_CONTRACT_COLS}",
        values["id"],
        values["client_id"],
        values["offer"],
        values["year"],
        values["start_date"],
        values["end_date"],
        values["renewal_of"],
        values["created_by"],
        values["level"],
    )
    assert row is not None
    return row


async def get_contract(
    conn: asyncpg.Connection, contract_id: uuid.UUID, *, lock: bool = False
) -> Row | None:
    sql = f"SELECT {_CONTRACT_COLS} FROM contracts c WHERE c.id = $1"
    return await conn.fetchrow(sql + (" FOR UPDATE" if lock else ""), contract_id)


async def list_contracts(
    conn: asyncpg.Connection,
    *,
    client_id: uuid.UUID | None,
    status: str | None,
    year: int | None,
    non_conforming: bool | None,
    limit: int,
    offset: int,
    offer: str | None = None,
) -> list[Row]:
    return await conn.fetch(
        f"SELECT {_CONTRACT_COLS} FROM contracts c"
        " WHERE ($1::uuid IS NULL OR c.client_id = $1) AND ($2::text IS NULL OR c.status = $2)"
        " AND ($3::int IS NULL OR c.year = $3) AND ($6::bool IS NULL OR c.non_conforming = $6)"
        " AND ($7::text IS NULL OR c.offer = $7)"
        " ORDER BY c.created_at, c.id LIMIT $4 OFFSET $5",
        client_id,
        status,
        year,
        limit,
        offset,
        non_conforming,
        offer,
    )


async def active_contracts_of_client(conn: asyncpg.Connection, client_id: uuid.UUID) -> list[Row]:
    """The client's active contracts, locked for update, oldest year first."""
    return await conn.fetch(
        f"SELECT {_CONTRACT_COLS} FROM contracts c"
        " WHERE c.client_id = $1 AND c.status = 'active' ORDER BY c.year FOR UPDATE",
        client_id,
    )


async def renewal_for(conn: asyncpg.Connection, client_id: uuid.UUID, year: int) -> Row | None:
    """The client's live (draft or active) contract for ``year`` with what its offer includes."""
    return await conn.fetchrow(
        "SELECT c.id, c.status, o.includes FROM contracts c JOIN offers o ON o.code = c.offer"
        " WHERE c.client_id = $1 AND c.year = $2 AND c.status IN ('draft', 'active')",
        client_id,
        year,
    )


async def set_contract_state(
    conn: asyncpg.Connection, contract_id: uuid.UUID, **fields: Any
) -> Row:
    """Update the given columns of a contract and bump its version by one (every change)."""
    allowed = {"status", "non_conforming", "activated_at", "end_reason", "ended_on", "ended_at"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValueError(f"not updatable: {sorted(unknown)}")
    names = sorted(fields)
    sets = ", ".join(f"{n} = ${i + 2}" for i, n in enumerate(names))
    row = await conn.fetchrow(
        f"UPDATE contracts AS c SET {sets}, version = c.version + 1, updated_at = now()"
        f" WHERE c.id = $1 RETURNING {_CONTRACT_COLS}",
        contract_id,
        *(fields[n] for n in names),
    )
    assert row is not None
    return row


async def bump_version(conn: asyncpg.Connection, contract_id: uuid.UUID) -> Row:
    row = await conn.fetchrow(
        "UPDATE contracts AS c SET version = c.version + 1, updated_at = now()"
        f" WHERE c.id = $1 RETURNING {_CONTRACT_COLS}",
        contract_id,
    )
    assert row is not None
    return row


async def lock_year_shared(conn: asyncpg.Connection, year: int) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock_shared($1, $2)", _YEAR_LOCK, year)


async def lock_year_exclusive(conn: asyncpg.Connection, year: int) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", _YEAR_LOCK, year)


# --- interventions and amendments (C5) ----------------------------------------------------


async def insert_intervention(
    conn: asyncpg.Connection, client_id: uuid.UUID, technician: str, description: str
) -> Row:
    row = await conn.fetchrow(
        "INSERT INTO interventions (id, client_id, technician, description) VALUES ($1, $2, $3, $4)"
        " RETURNING id, technician, performed_at, description",
        uuid.uuid4(),
        client_id,
        technician,
        description,
    )
    assert row is not None
    return row


_INTERVENTION_COLS = (
    "id, client_id, contract_id, kind, technician, started_at, duration_minutes, mode, zone,"
    " description, billable, video_id, recorded_by, performed_at"
)


async def insert_service_intervention(conn: asyncpg.Connection, values: dict[str, Any]) -> Row:
    """C7: a remote or on-site intervention with its billable items."""
    row = await conn.fetchrow(
        "INSERT INTO interventions (id, client_id, contract_id, kind, technician, started_at,"
        " duration_minutes, mode, zone, description, billable, video_id, recorded_by)"
        " VALUES ($1, $2, $3, 'service', $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        f" RETURNING {_INTERVENTION_COLS}",
        values["id"],
        values["client_id"],
        values["contract_id"],
        values["technician"],
        values["started_at"],
        values["duration_minutes"],
        values["mode"],
        values["zone"],
        values["summary"],
        _jsonable(values["billable"]),
        values["video_id"],
        values["recorded_by"],
    )
    assert row is not None
    return row


async def list_interventions(
    conn: asyncpg.Connection,
    *,
    client_id: uuid.UUID | None,
    since: datetime | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[Row]:
    """Newest first; ``after`` is the (started_at, id) of the last row of the previous page."""
    return await conn.fetch(
        f"SELECT {_INTERVENTION_COLS} FROM interventions"
        " WHERE ($1::uuid IS NULL OR client_id = $1)"
        " AND ($2::timestamptz IS NULL OR started_at >= $2)"
        " AND ($3::timestamptz IS NULL OR (started_at, id) < ($3, $4::uuid))"
        " ORDER BY started_at DESC, id DESC LIMIT $5",
        client_id,
        since,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )


async def active_contract_on(
    conn: asyncpg.Connection, client_id: uuid.UUID, day: date
) -> Row | None:
    return await conn.fetchrow(
        "SELECT id FROM contracts WHERE client_id = $1 AND status = 'active'"
        " AND start_date <= $2 AND end_date >= $2",
        client_id,
        day,
    )


async def insert_amendment(conn: asyncpg.Connection, values: dict[str, Any]) -> None:
    await conn.execute(
        "INSERT INTO amendments (id, contract_id, intervention_id, effective_date, changes,"
        " postes_before, postes_after, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        values["id"],
        values["contract_id"],
        values["intervention_id"],
        values["effective_date"],
        _jsonable(values["changes"]),
        values["postes_before"],
        values["postes_after"],
        values["version"],
    )


async def list_amendments(conn: asyncpg.Connection, contract_id: uuid.UUID) -> list[Row]:
    return await conn.fetch(
        "SELECT a.id, a.contract_id, a.effective_date, a.changes, a.postes_before, a.postes_after,"
        " a.version, a.created_at, i.id AS intervention_id, i.technician, i.performed_at, i.description"
        " FROM amendments a JOIN interventions i ON i.id = a.intervention_id"
        " WHERE a.contract_id = $1 ORDER BY a.created_at, a.id",
        contract_id,
    )


# --- terminations (C6) ----------------------------------------------------------------------

_TERMINATION_COLS = (
    "id, contract_id, reason, effective_date, status, document_type, document_name, document_size,"
    " document_sha256, requested_by, requested_at, approved_by, approved_at, decided_by,"
    " decided_at, decision_note, applied_at"
)


async def insert_termination(conn: asyncpg.Connection, values: dict[str, Any]) -> Row:
    row = await conn.fetchrow(
        "INSERT INTO terminations (id, contract_id, reason, effective_date, status, document,"
        " document_type, document_name, document_size, document_sha256, requested_by)"
        " VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7, $8, $9, $10)"
        f" RETURNING {_TERMINATION_COLS}",
        values["id"],
        values["contract_id"],
        values["reason"],
        values["effective_date"],
        values["document"],
        values["document_type"],
        values["document_name"],
        values["document_size"],
        values["document_sha256"],
        values["requested_by"],
    )
    assert row is not None
    return row


async def get_termination(
    conn: asyncpg.Connection, termination_id: uuid.UUID, *, lock: bool = False
) -> Row | None:
    sql = f"SELECT {_TERMINATION_COLS} FROM terminations WHERE id = $1"
    return await conn.fetchrow(sql + (" FOR UPDATE" if lock else ""), termination_id)


async def list_terminations(
    conn: asyncpg.Connection,
    *,
    status: str | None,
    contract_id: uuid.UUID | None,
    client_id: uuid.UUID | None,
    limit: int,
    offset: int,
) -> list[Row]:
    """Cessation requests, oldest first (the four-eyes queue with ``status='pending'``)."""
    cols = ", ".join(f"t.{c.strip()}" for c in _TERMINATION_COLS.split(","))
    return await conn.fetch(
        f"SELECT {cols} FROM terminations t JOIN contracts c ON c.id = t.contract_id"
        " WHERE ($1::text IS NULL OR t.status = $1) AND ($2::uuid IS NULL OR t.contract_id = $2)"
        " AND ($3::uuid IS NULL OR c.client_id = $3)"
        " ORDER BY t.requested_at, t.id LIMIT $4 OFFSET $5",
        status,
        contract_id,
        client_id,
        limit,
        offset,
    )


async def get_termination_document(
    conn: asyncpg.Connection, termination_id: uuid.UUID
) -> Row | None:
    return await conn.fetchrow(
        "SELECT document, document_type, document_name FROM terminations WHERE id = $1",
        termination_id,
    )


async def clear_termination_documents(
    conn: asyncpg.Connection, magic: bytes, limit: int
) -> list[Row]:
    """Documents stored before sealing (they do not begin with the envelope's magic)."""
    return await conn.fetch(
        "SELECT id, document FROM terminations"
        " WHERE substring(document FROM 1 FOR $1) <> $2 ORDER BY id LIMIT $3 FOR UPDATE",
        len(magic),
        magic,
        limit,
    )


async def set_termination_document(
    conn: asyncpg.Connection, termination_id: uuid.UUID, document: bytes
) -> None:
    await conn.execute(
        "UPDATE terminations SET document = $2 WHERE id = $1", termination_id, document
    )


async def decide_termination(
    conn: asyncpg.Connection,
    termination_id: uuid.UUID,
    *,
    status: str,
    actor: str,
    note: str | None,
    at: datetime,
) -> Row:
    """Approve, reject or withdraw a pending request (the caller checked it is pending)."""
    approved = status == "approved"
    row = await conn.fetchrow(
        "UPDATE terminations SET status = $2, decided_by = $3::text,"
        " decided_at = $5::timestamptz, decision_note = $4,"
        " approved_by = CASE WHEN $6::boolean THEN $3::text END,"
        " approved_at = CASE WHEN $6::boolean THEN $5::timestamptz END"
        f" WHERE id = $1 RETURNING {_TERMINATION_COLS}",
        termination_id,
        status,
        actor,
        note,
        at,
        approved,
    )
    assert row is not None
    return row


async def mark_termination_applied(
    conn: asyncpg.Connection, termination_id: uuid.UUID, at: datetime
) -> Row:
    row = await conn.fetchrow(
        f"UPDATE terminations SET applied_at = $2 WHERE id = $1 RETURNING {_TERMINATION_COLS}",
        termination_id,
        at,
    )
    assert row is not None
    return row


async def due_terminations(conn: asyncpg.Connection, today: date, limit: int) -> list[Row]:
    """Approved cessations whose effective date has come, not applied yet (C6), locked."""
    return await conn.fetch(
        f"SELECT {_TERMINATION_COLS} FROM terminations"
        " WHERE status = 'approved' AND applied_at IS NULL AND effective_date <= $1"
        " ORDER BY effective_date, id LIMIT $2 FOR UPDATE SKIP LOCKED",
        today,
        limit,
    )


# --- year-end runs (C2) -------------------------------------------------------------------


async def get_year_end_run(conn: asyncpg.Connection, year: int) -> Row | None:
    return await conn.fetchrow(
        "SELECT year, status, started_by, started_at, finished_at, ended_count, batches"
        " FROM year_end_runs WHERE year = $1",
        year,
    )


async def open_year_end_run(conn: asyncpg.Connection, year: int, actor: str) -> None:
    await conn.execute(
        "INSERT INTO year_end_runs (year, status, started_by) VALUES ($1, 'running', $2)"
        " ON CONFLICT (year) DO UPDATE SET status = 'running', finished_at = NULL"
        " WHERE year_end_runs.status = 'running'",
        year,
        actor,
    )


async def finish_year_end_run(conn: asyncpg.Connection, year: int) -> None:
    await conn.execute(
        "UPDATE year_end_runs SET status = 'done', finished_at = coalesce(finished_at, now())"
        " WHERE year = $1",
        year,
    )


async def cancel_drafts_of_year(
    conn: asyncpg.Connection, year: int, actor: Actor, at: datetime
) -> list[Row]:
    """Drafts of a closed year can never be activated: cancel them (with their audit rows).

    Returns what their ``contract.cancelled`` events need (C8: what was carried over stops)."""
    rows = await conn.fetch(
        """
        WITH cancelled AS (
            UPDATE contracts c SET status = 'cancelled', version = c.version + 1, updated_at = now()
             WHERE c.year = $1 AND c.status = 'draft'
            RETURNING c.id, c.client_id, c.version, c.offer, c.year, c.renewal_of
        ), audited AS (
            INSERT INTO audit_trail (at, actor, actor_name, address, action, target_type,
                                     target_id, client_id, before, after)
            SELECT $4, $2, $5, $3, 'contract.cancelled', 'contract', x.id::text, x.client_id,
                   jsonb_build_object('status', 'draft', 'version', x.version - 1),
                   jsonb_build_object('status', 'cancelled', 'version', x.version,
                                      'why', 'year-end: the year is closed')
              FROM cancelled x
        )
        SELECT x.*, o.includes FROM cancelled x JOIN offers o ON o.code = x.offer
        """,
        year,
        actor.sub,
        actor.address,
        at,
        actor.name,
    )
    return list(rows)


async def count_active(conn: asyncpg.Connection, year: int) -> int:
    value = await conn.fetchval(
        "SELECT count(*) FROM contracts WHERE status = 'active' AND year = $1", year
    )
    return int(value)


async def count_ended(conn: asyncpg.Connection, year: int) -> int:
    """Contracts of the year that ended, by the year-end or a cessation (C6): one
    ``contract.ended`` each."""
    value = await conn.fetchval(
        "SELECT count(*) FROM contracts WHERE status = 'ended' AND year = $1", year
    )
    return int(value)


async def years_with_active_before(conn: asyncpg.Connection, year: int) -> list[int]:
    rows = await conn.fetch(
        "SELECT DISTINCT year FROM contracts WHERE status = 'active' AND year < $1"
        " UNION SELECT year FROM year_end_runs WHERE status = 'running' ORDER BY 1",
        year,
    )
    return [r["year"] for r in rows]


async def end_year_batch(
    conn: asyncpg.Connection,
    year: int,
    limit: int,
    ended_at: datetime,
    actor: Actor,
    at: datetime,
) -> list[Row]:
    """End up to ``limit`` active contracts of ``year`` in one statement (set-based, C2).

    Locked rows (a concurrent amendment or runner) are skipped and picked up by a later batch.
    The audit rows are written by the same statement; the result carries what the
    ``contract.ended`` events need (includes, postes, the next year's live contract).
    """
    rows = await conn.fetch(
        """
        WITH batch AS (
            SELECT id FROM contracts
             WHERE status = 'active' AND year = $1
             ORDER BY id LIMIT $2
             FOR UPDATE SKIP LOCKED
        ), ended AS (
            UPDATE contracts c
               SET status = 'ended', version = c.version + 1, end_reason = 'year_end',
                   ended_on = c.end_date, ended_at = $3, updated_at = now()
              FROM batch WHERE c.id = batch.id
            RETURNING c.id, c.client_id, c.offer, c.version, c.year, c.end_date
        ), audited AS (
            INSERT INTO audit_trail (at, actor, actor_name, address, action, target_type,
                                     target_id, client_id, before, after)
            SELECT $7, $4, $6, $5, 'contract.ended', 'contract', e.id::text, e.client_id,
                   jsonb_build_object('status', 'active', 'version', e.version - 1),
                   jsonb_build_object('status', 'ended', 'version', e.version,
                                      'end_reason', 'year_end', 'ended_on', e.end_date)
              FROM ended e
        ), postes AS (
            SELECT a.client_id, count(*) AS n
              FROM assets a
             WHERE a.removed_at IS NULL AND a.kind IN ('server', 'workstation')
               AND a.client_id IN (SELECT client_id FROM ended)
             GROUP BY a.client_id
        )
        SELECT e.id, e.client_id, e.offer, e.version, e.year, e.end_date, o.includes,
               coalesce(p.n, 0) AS postes, r.id AS renewal_id, ro.includes AS renewal_includes
          FROM ended e
          JOIN offers o ON o.code = e.offer
          LEFT JOIN postes p ON p.client_id = e.client_id
          LEFT JOIN contracts r ON r.client_id = e.client_id AND r.year = e.year + 1
                                AND r.status IN ('draft', 'active')
          LEFT JOIN offers ro ON ro.code = r.offer
        """,
        year,
        limit,
        ended_at,
        actor.sub,
        actor.address,
        actor.name,
        at,
    )
    if rows:
        await conn.execute(
            "UPDATE year_end_runs SET ended_count = ended_count + $2, batches = batches + 1 WHERE year = $1",
            year,
            len(rows),
        )
    return rows


def record(row: Row | None, keys: Sequence[str] | None = None) -> dict[str, Any]:
    """A record as a plain dict (for audit before/after)."""
    if row is None:
        return {}
    data = dict(row)
    return {k: data[k] for k in keys} if keys is not None else data
