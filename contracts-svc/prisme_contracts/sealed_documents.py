"""Cessation documents at rest (C6): sealed with the chassis keyring, bound to their
termination, never stored in clear.

Rows stored before sealing existed hold the document in clear (a PDF, JPEG or PNG, which never
begins like an envelope); :func:`seal_clear_documents` seals them at start-up, batch by batch.
"""

from __future__ import annotations

import uuid

import asyncpg
from prisme_chassis.db import transaction
from prisme_chassis.sealing import KEY_BYTES, MAGIC, Keyring, decode_key, decode_keys
from prisme_chassis.settings import secret_from_data_dir

from . import repository as repo
from .settings import ContractsSettings


def load_keyring(settings: ContractsSettings) -> Keyring:
    if settings.documents_key is not None and settings.documents_key.get_secret_value():
        current = decode_key(settings.documents_key.get_secret_value(), name="documents_key")
    else:
        current = secret_from_data_dir(settings, "contracts-documents", KEY_BYTES)
    previous = settings.documents_previous_keys
    text = previous.get_secret_value() if previous is not None else ""
    return Keyring(current, decode_keys(text, name="documents_previous_keys"))


def _context(termination_id: uuid.UUID) -> bytes:
    return b"cessation-document:" + termination_id.bytes


def seal(keyring: Keyring, termination_id: uuid.UUID, document: bytes) -> bytes:
    return keyring.seal(document, _context(termination_id))


def open_document(keyring: Keyring, termination_id: uuid.UUID, stored: bytes) -> bytes:
    return keyring.open(stored, _context(termination_id))


async def seal_clear_documents(pool: asyncpg.Pool, keyring: Keyring, batch: int = 100) -> int:
    """Seal every document still stored in clear; returns how many were sealed."""
    sealed = 0
    while True:
        async with transaction(pool) as conn:
            rows = await repo.clear_termination_documents(conn, MAGIC, batch)
            for row in rows:
                await repo.set_termination_document(
                    conn, row["id"], seal(keyring, row["id"], bytes(row["document"]))
                )
        sealed += len(rows)
        if len(rows) < batch:
            return sealed
