"""O3: the dashboard's own audit table moves onto the chassis' audit_trail without losing a
row (the system's, the command line's and anonymous rows get an actor of their own)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import prisme_dashboard
from prisme_chassis.db import CHASSIS_MIGRATIONS, connect, migrate

MIGRATIONS = Path(prisme_dashboard.__file__).parent / "migrations"


async def test_the_old_audit_rows_are_on_the_chassis_trail(
    new_database: Callable[[], Awaitable[str]], tmp_path: Path
) -> None:
    dsn = await new_database()
    before_move = tmp_path / "migrations"
    before_move.mkdir()
    for path in sorted(MIGRATIONS.glob("*.sql")):
        if path.name < "003":
            (before_move / path.name).write_text(path.read_text())
    at = datetime(2026, 4, 1, 8, 0, tzinfo=UTC)
    conn = await connect(dsn)
    try:
        await migrate(conn, "chassis", CHASSIS_MIGRATIONS)
        await migrate(conn, "dashboard", before_move)
        await conn.executemany(
            "INSERT INTO audit (at, actor_id, actor_name, action, target_type, target_id,"
            " address, request_id, reason, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9,"
            " $10)",
            [
                (
                    at,
                    "op-1",
                    "Alice",
                    "operator.disabled",
                    "operator",
                    "op-2",
                    "10.0.0.1",
                    "r-1",
                    None,
                    {},
                ),
                (
                    at,
                    None,
                    "ligne de commande",
                    "operator.created",
                    "operator",
                    "op-3",
                    None,
                    None,
                    None,
                    {"email": "c@prisme.re"},
                ),
                (
                    at,
                    None,
                    "système",
                    "session.ended",
                    "session",
                    "s-1",
                    None,
                    None,
                    None,
                    {"why": "idle"},
                ),
                (
                    at,
                    None,
                    None,
                    "sign_in.failed",
                    None,
                    None,
                    "10.0.0.9",
                    None,
                    None,
                    {"email": "x@y.re", "step": "password"},
                ),
            ],
        )
        await migrate(conn, "dashboard", MIGRATIONS)
        rows = await conn.fetch(
            "SELECT actor, actor_name, action, target_id, address, request_id, detail, at"
            " FROM audit_trail ORDER BY id"
        )
        assert [(r["actor"], r["action"]) for r in rows] == [
            ("op-1", "operator.disabled"),
            ("system:cli", "operator.created"),
            ("system:dashboard", "session.ended"),
            ("anonymous", "sign_in.failed"),
        ]
        assert (rows[0]["address"], rows[0]["request_id"]) == ("10.0.0.1", "r-1")
        assert rows[1]["detail"] == {"email": "c@prisme.re"}
        assert all(r["at"] == at for r in rows)
        assert await conn.fetchval("SELECT to_regclass('audit')") is None
    finally:
        await conn.close()
