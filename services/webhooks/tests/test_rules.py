"""Pure rules: filters, thin payloads, answers, retry delays, signatures, sealing."""

from __future__ import annotations

import base64
import secrets
import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prisme_chassis.keys import generate_keypair
from prisme_chassis.sealing import TamperedError
from prisme_events import ContractActivated, event_types
from prisme_webhooks import domain, signing
from prisme_webhooks.alert_rules import RULES, rule_for
from prisme_webhooks.sealing import load_keyring
from prisme_webhooks.settings import DEFAULT_RETRY_SCHEDULE, WebhooksSettings
from standardwebhooks import Webhook, WebhookVerificationError

PUBLIC = generate_keypair()[1]


def test_filters() -> None:
    assert domain.matches(["contract.*"], "contract.activated")
    assert not domain.matches(["contract.*"], "contracts.x")
    assert domain.matches(["invoice.paid"], "invoice.paid")
    assert not domain.matches(["invoice.paid"], "invoice.issued")
    assert domain.matches(["*"], "backup.missed")
    assert not domain.matches([], "backup.missed")
    assert domain.valid_filter("contract.*")
    assert not domain.valid_filter("contract.>")
    assert not domain.valid_filter("*.paid")
    known = list(event_types())
    assert domain.known_pattern("backup.*", known)
    assert not domain.known_pattern("nothing.*", known)


def test_retry_schedule_and_answers() -> None:
    assert DEFAULT_RETRY_SCHEDULE == (5, 300, 1800, 7200, 18000, 36000, 36000)
    assert domain.next_delay(DEFAULT_RETRY_SCHEDULE, 1, 500, None) == 5
    assert domain.next_delay(DEFAULT_RETRY_SCHEDULE, 7, None, None) == 36000
    assert domain.next_delay(DEFAULT_RETRY_SCHEDULE, 8, 500, None) is None
    assert domain.next_delay(DEFAULT_RETRY_SCHEDULE, 1, 429, 120) == 120
    assert domain.next_delay(DEFAULT_RETRY_SCHEDULE, 1, 500, 120) == 5  # only 429/503
    assert [domain.verdict(s) for s in (200, 204, 299, 410, 500, 301, None)] == [
        "success", "success", "success", "gone", "retry", "retry", "retry",
    ]  # fmt: skip
    now = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    assert domain.parse_retry_after("30", now) == 30
    assert domain.parse_retry_after("Tue, 01 Dec 2026 10:01:00 GMT", now) == 60
    assert domain.parse_retry_after("soon", now) is None
    assert domain.excerpt(b"x" * 5000) == "x" * 1024


def test_thin_payload_keeps_ids_and_facts_only() -> None:
    event = ContractActivated.model_construct(
        **{
            "event_id": uuid.uuid4(),
            "occurred_at": datetime(2026, 3, 15, 8, 0, tzinfo=UTC),
            "contract_id": uuid.uuid4(),
            "client_id": uuid.uuid4(),
            "version": 3,
            "offer": "prisme",
            "year": 2026,
            "start_date": "2026-03-15",
            "end_date": "2026-12-31",
            "client": {
                "client_id": str(uuid.uuid4()),
                "name": "Cabinet",
                "siren": "732829320",
                "address": {"line1": "1 rue", "postal_code": "97490", "city": "Sainte-Clotilde"},
                "manager": {"name": "Dr", "email": "dr@cabinet.re", "phone": "0262"},
            },
            "users": [],
            "postes": 3,
        }
    )
    body = domain.thin_payload(event)
    assert body["type"] == "contract.activated"
    assert body["data"]["aggregate"] == {"id": str(event.contract_id), "version": 3}
    assert body["data"]["contract_id"] == str(event.contract_id)
    assert "client" not in body["data"]
    assert "users" not in body["data"]
    assert "dr@cabinet.re" not in str(body)


@given(st.text(max_size=2000), st.integers(min_value=1_600_000_000, max_value=2_000_000_000))
def test_our_signature_is_the_one_standardwebhooks_computes(text: str, ts: int) -> None:
    secret = signing.new_secret()
    msg_id = str(uuid.uuid4())
    headers = signing.headers([secret], msg_id, ts, text.encode())
    expected = Webhook(secret).sign(msg_id, datetime.fromtimestamp(ts, UTC), text)
    assert headers["webhook-signature"] == expected


def test_a_forged_or_replayed_delivery_is_detectable() -> None:
    secret = signing.new_secret()
    body = b'{"type":"invoice.paid"}'
    now = int(datetime.now(UTC).timestamp())
    good = signing.headers([secret], "msg_1", now, body)
    Webhook(secret).verify(body, good)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body + b" ", good)  # tampered body
    with pytest.raises(WebhookVerificationError):
        Webhook(signing.new_secret()).verify(body, good)  # forged with another secret
    stale = signing.headers([secret], "msg_1", now - 3600, body)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body, stale)  # replayed an hour later


def test_secrets_are_sealed_with_a_rotatable_key(tmp_path) -> None:
    def key() -> str:
        return base64.b64encode(secrets.token_bytes(32)).decode()

    def settings(**over: str) -> WebhooksSettings:
        return WebhooksSettings(
            env="test", jwt_public_key=PUBLIC, database_url="postgresql://x", data_dir=tmp_path,
            **over,
        )  # fmt: skip

    old_key = key()
    old = load_keyring(settings(master_key=old_key))
    sealed = old.seal_text("whsec_abc", "endpoint-1")
    assert b"whsec_abc" not in sealed
    assert old.open_text(sealed, "endpoint-1") == "whsec_abc"
    with pytest.raises(TamperedError):
        old.open_text(sealed, "endpoint-2")  # bound to its row
    rotated = load_keyring(settings(master_key=key(), previous_master_keys=old_key))
    assert rotated.current_id != old.sealed_with(sealed)
    assert rotated.open_text(sealed, "endpoint-1") == "whsec_abc"
    generated = load_keyring(settings())  # development/test: kept in data_dir
    assert load_keyring(settings()).current_id == generated.current_id


def test_alert_rules_cover_the_issue() -> None:
    assert rule_for("backup.missed", {}) is RULES["backup.missed"]
    assert rule_for("licence.failed", {"reason": "no_free_seat"}) is RULES["licence.no_free_seat"]
    assert rule_for("licence.failed", {"reason": "graph_unavailable"}) is RULES["licence.failed"]
    assert rule_for("invoice.payment_failed", {}).audience == "accountants"  # type: ignore[union-attr]
    assert rule_for("invoice.overdue", {}).audience == "accountants"  # type: ignore[union-attr]
    assert rule_for("contract.activated", {}) is None
    assert RULES["deadletter"].urgent
    assert RULES["backup.check_failed"].urgent
