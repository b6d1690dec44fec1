"""The catalogue: every event of DESIGN.md §3, CloudEvents headers, the AsyncAPI document."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest
from prisme_events import (
    ContractEnded,
    UnknownEventError,
    cloudevent_headers,
    decode,
    encode,
    event_types,
    stream_for,
)
from prisme_events.asyncapi import DOCUMENT, build, render

DESIGN_EVENTS = {
    "contract.activated", "contract.amended", "contract.ended", "contract.eligibility_changed",
    "invoice.issued", "invoice.paid", "invoice.payment_failed", "credit_note.issued",
    "payment.refunded", "licence.provisioned", "licence.revoked", "licence.failed",
    "video.link_created", "video.link_revoked", "backup.snapshot_completed", "backup.missed",
    "backup.check_failed", "backup.purged",
}  # fmt: skip


def _ended() -> ContractEnded:
    return ContractEnded(
        contract_id=uuid.uuid4(),
        client_id=uuid.uuid4(),
        version=3,
        offer="prisme",
        includes=["microsoft_365"],
        year=2026,
        reason="year_end",
        effective_date=date(2026, 12, 31),
        ended_at=datetime(2026, 12, 31, 20, 0, tzinfo=UTC),
        postes=6,
    )


def test_every_design_event_has_one_model() -> None:
    assert set(event_types()) >= DESIGN_EVENTS
    for subject, cls in event_types().items():
        assert cls.subject == subject
        assert cls.__doc__, f"{cls.__name__} needs a docstring (it becomes the AsyncAPI summary)"
        stream_for(subject)  # every subject belongs to a stream


def test_cloudevents_headers_and_round_trip() -> None:
    event = _ended()
    headers = cloudevent_headers(event)
    assert headers["ce-id"] == headers["Nats-Msg-Id"] == str(event.event_id)
    assert headers["ce-type"] == "contract.ended"
    assert headers["ce-source"] == "contracts-svc"
    assert headers["ce-subject"] == str(event.contract_id)
    assert headers["ce-dataschema"].endswith("contract.ended:v1")
    assert decode("contract.ended", encode(event)) == event


def test_unknown_and_invalid_payloads_are_refused() -> None:
    with pytest.raises(UnknownEventError):
        decode("contract.exploded", b"{}")
    with pytest.raises(ValueError, match="validation error"):
        decode("contract.ended", b'{"contract_id": "nope"}')


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        ContractEnded.model_validate({**_ended().model_dump(), "ended_at": datetime(2026, 12, 31)})


def test_checked_in_asyncapi_is_current() -> None:
    doc = build()
    assert doc["asyncapi"].startswith("3.")
    assert set(doc["channels"]) == {s.replace(".", "_") for s in event_types()}
    assert DOCUMENT.read_text(encoding="utf-8") == render(), (
        "libs/events/asyncapi.json is stale: run `python -m prisme_events.asyncapi`"
    )


def test_every_event_carries_its_aggregate_version() -> None:
    for subject, cls in event_types().items():
        field = cls.model_fields.get("version")
        assert field is not None, f"{subject} has no aggregate version"
        schema = cls.model_json_schema()["properties"]["version"]
        assert schema["type"] == "integer"
        assert schema["minimum"] == 1, subject
    # a payload that changed has its schema version bumped (v2 added ``version``); contract
    # events always had it, and intervention.recorded, client.corrected,
    # webhook.endpoint_disabled and the job.dead.* events were born with it
    for subject, cls in event_types().items():
        if not subject.startswith(("contract.", "intervention.", "client.", "webhook.", "job.")):
            assert cls.schema_version >= 2, subject
            assert cls.dataschema().endswith(f":v{cls.schema_version}")
