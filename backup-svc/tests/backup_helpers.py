"""Small helpers of backup-svc's tests."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, datetime
from pathlib import Path
from typing import TypeVar

import pgserver
from prisme_backup.domain import REUNION
from prisme_events import Address, ClientSnapshot, ContractActivated, ContractEnded, Manager
from prisme_testing import factories
from prisme_testing.polling import eventually as eventually

T = TypeVar("T")

PG_BIN = Path(pgserver.__file__).parent / "pginstall" / "bin"
PG_DUMP = str(PG_BIN / "pg_dump")
PG_RESTORE = str(PG_BIN / "pg_restore")
PSQL = str(PG_BIN / "psql")


async def run(*argv: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[0]} exited {proc.returncode}: {err.decode()}")
    return out.decode().strip()


async def psql(uri: str, sql: str) -> str:
    return await run(PSQL, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", uri, "-c", sql)


def with_db(uri: str, dbname: str) -> str:
    base, _, query = uri.partition("?")
    head = base.rsplit("/", 1)[0]
    return f"{head}/{dbname}" + (f"?{query}" if query else "")


def write_tree(root: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def read_tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def client_snapshot(
    client_id: uuid.UUID, *, name: str = "Cabinet médical des Filaos"
) -> ClientSnapshot:
    return ClientSnapshot(
        client_id=client_id,
        name=name,
        siren="552100554",
        address=Address(line1="12 rue des Filaos", postal_code="97400", city="Saint-Denis"),
        manager=Manager(name="Dr Payet", email="gerant@filaos.example", phone="+262262000001"),
    )


PRISME_INCLUDES = ["microsoft_365", "cloud_backup", "video_recordings"]


def activated(
    client_id: uuid.UUID,
    contract_id: uuid.UUID | None = None,
    *,
    version: int = 2,
    includes: list[str] | None = None,
    year: int | None = None,
    name: str | None = None,
) -> ContractActivated:
    year = year or date.today().year
    return factories.contract_activated(
        contract_id=contract_id,
        client=client_snapshot(client_id, **({} if name is None else {"name": name})),
        version=version,
        includes=PRISME_INCLUDES if includes is None else includes,
        start=date(year, 1, 1),
        ends_at=datetime(year, 12, 31, 23, 59, 59, tzinfo=REUNION),
        postes=4,
    )


def ended(
    event: ContractActivated,
    *,
    version: int = 3,
    effective_date: date | None = None,
    renewal_includes: list[str] | None = None,
) -> ContractEnded:
    return factories.contract_ended(
        event,
        version=version,
        reason="cessation",
        effective=effective_date or date.today(),
        ended_at=datetime.now(REUNION),
        renewal_contract_id=uuid.uuid4() if renewal_includes is not None else None,
        renewal_includes=renewal_includes or [],
    )
