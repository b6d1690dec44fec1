"""The chassis registry and its Prometheus text exposition."""

from __future__ import annotations

import re

from prisme_chassis import metrics
from prisme_chassis.metrics import (
    DEAD_LETTERS,
    EVENTS_CONSUMED,
    EVENTS_PUBLISHED,
    HTTP_LATENCY,
    HTTP_REQUESTS,
    OUTBOX_LAG,
    OUTBOX_PENDING,
    REGISTRY,
    render,
)
from prometheus_client.parser import text_string_to_metric_families


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_render_is_prometheus_text() -> None:
    body, content_type = render()
    assert content_type.startswith("text/plain; version=")
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}
    assert {
        "prisme_http_requests",
        "prisme_http_request_duration_seconds",
        "prisme_events_published",
        "prisme_events_consumed",
        "prisme_outbox_pending",
        "prisme_outbox_lag_seconds",
        "prisme_dead_letters",
    } <= set(families)
    assert families["prisme_outbox_lag_seconds"].type == "gauge"
    assert families["prisme_http_request_duration_seconds"].type == "histogram"


def test_counters_and_gauges_show_in_exposition() -> None:
    before = sample(
        "prisme_events_consumed_total",
        durable="billing-contracts",
        subject="contract.ended",
        outcome="dead_letter",
    )
    EVENTS_CONSUMED.labels("billing-contracts", "contract.ended", "dead_letter").inc()
    EVENTS_PUBLISHED.labels("contract.activated").inc(3)
    DEAD_LETTERS.labels("billing-contracts", "contract.ended").inc()
    OUTBOX_PENDING.set(7)
    OUTBOX_LAG.set(1.5)
    HTTP_REQUESTS.labels("contracts-svc", "GET", "/v1/contracts/{id}", "200").inc()
    HTTP_LATENCY.labels("contracts-svc", "GET", "/v1/contracts/{id}").observe(0.004)

    after = sample(
        "prisme_events_consumed_total",
        durable="billing-contracts",
        subject="contract.ended",
        outcome="dead_letter",
    )
    assert after == before + 1
    text = render()[0].decode()
    assert "prisme_outbox_pending 7.0" in text
    assert "prisme_outbox_lag_seconds 1.5" in text
    assert 'prisme_events_published_total{subject="contract.activated"}' in text
    assert 'prisme_dead_letters_total{durable="billing-contracts",subject="contract.ended"}' in text
    assert (
        sample(
            "prisme_http_request_duration_seconds_bucket",
            service="contracts-svc",
            method="GET",
            route="/v1/contracts/{id}",
            le="0.005",
        )
        >= 1
    )
    # *_created series are disabled: they double the exposition for no use
    assert not re.search(r"^\w+_created[{ ]", text, re.MULTILINE)


def test_registry_is_private() -> None:
    import prometheus_client

    assert metrics.REGISTRY is not prometheus_client.REGISTRY
    assert b"prisme_http_requests" not in prometheus_client.generate_latest(
        prometheus_client.REGISTRY
    )
