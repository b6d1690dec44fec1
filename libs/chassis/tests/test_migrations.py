"""The migration runner against a real PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
import pytest
from prisme_chassis.db import MigrationError, load_migrations, migrate


def write(directory: Path, name: str, sql: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text(sql)


async def test_applies_in_order_once_and_records(
    tmp_path: Path, new_database: Callable[[], Awaitable[str]]
) -> None:
    write(tmp_path, "002_add_column.sql", "ALTER TABLE t ADD COLUMN b int;")
    write(tmp_path, "001_create.sql", "CREATE TABLE t (a int);")
    conn = await asyncpg.connect(await new_database())
    try:
        assert await migrate(conn, "svc", tmp_path) == [1, 2]
        assert await migrate(conn, "svc", tmp_path) == []  # idempotent
        write(tmp_path, "003_more.sql", "ALTER TABLE t ADD COLUMN c int;")
        assert await migrate(conn, "svc", tmp_path) == [3]
        cols = await conn.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 't' ORDER BY 1"
        )
        assert [r[0] for r in cols] == ["a", "b", "c"]
        rows = await conn.fetch(
            "SELECT version, name FROM schema_migrations WHERE component = 'svc' ORDER BY 1"
        )
        assert [(r[0], r[1]) for r in rows] == [(1, "create"), (2, "add_column"), (3, "more")]
    finally:
        await conn.close()


async def test_edited_applied_migration_is_refused(
    tmp_path: Path, new_database: Callable[[], Awaitable[str]]
) -> None:
    write(tmp_path, "001_create.sql", "CREATE TABLE t (a int);")
    conn = await asyncpg.connect(await new_database())
    try:
        await migrate(conn, "svc", tmp_path)
        write(tmp_path, "001_create.sql", "CREATE TABLE t (a bigint);")
        with pytest.raises(MigrationError, match="changed after it was applied"):
            await migrate(conn, "svc", tmp_path)
    finally:
        await conn.close()


async def test_failed_migration_rolls_back_and_stops(
    tmp_path: Path, new_database: Callable[[], Awaitable[str]]
) -> None:
    write(tmp_path, "001_ok.sql", "CREATE TABLE ok (a int);")
    write(tmp_path, "002_bad.sql", "CREATE TABLE half (a int); SELECT no_such_function();")
    write(tmp_path, "003_after.sql", "CREATE TABLE after (a int);")
    conn = await asyncpg.connect(await new_database())
    try:
        with pytest.raises(asyncpg.UndefinedFunctionError):
            await migrate(conn, "svc", tmp_path)
        tables = {
            r[0]
            for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        }
        assert "ok" in tables
        assert "half" not in tables
        assert "after" not in tables
    finally:
        await conn.close()


async def test_concurrent_starters_apply_each_migration_once(
    tmp_path: Path, new_database: Callable[[], Awaitable[str]]
) -> None:
    write(tmp_path, "001_create.sql", "CREATE TABLE t (a int); INSERT INTO t VALUES (1);")
    dsn = await new_database()
    conns = [await asyncpg.connect(dsn) for _ in range(4)]
    try:
        results = await asyncio.gather(*(migrate(c, "svc", tmp_path) for c in conns))
        assert sorted(map(len, results)) == [0, 0, 0, 1]
        assert await conns[0].fetchval("SELECT count(*) FROM t") == 1
    finally:
        for c in conns:
            await c.close()


def test_badly_named_or_duplicate_files_are_refused(tmp_path: Path) -> None:
    write(tmp_path / "a", "1_x.sql", "")
    with pytest.raises(MigrationError, match="NNN_name"):
        load_migrations(tmp_path / "a")
    write(tmp_path / "b", "001_x.sql", "")
    write(tmp_path / "b", "0001_y.sql", "")
    with pytest.raises(MigrationError, match="two migrations"):
        load_migrations(tmp_path / "b")
