"""Prometheus metrics of the chassis, on one registry served by ``GET /metrics``.

A private :data:`REGISTRY` (not prometheus_client's global one) keeps the exposition to what
the platform defines and lets tests read exact values with ``REGISTRY.get_sample_value``.
Services may register their own collectors on it.
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

# The *_created series double the exposition size for no use on our dashboards.
disable_created_metrics()  # type: ignore[no-untyped-call]

REGISTRY = CollectorRegistry(auto_describe=True)

#: Latency buckets suited to P4 (p99 < 50 ms) while still showing slow outliers.
LATENCY_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)

HTTP_REQUESTS = Counter(
    "prisme_http_requests",
    "HTTP requests answered, by route template and status code.",
    ["service", "method", "route", "status"],
    registry=REGISTRY,
)
HTTP_LATENCY = Histogram(
    "prisme_http_request_duration_seconds",
    "Time from receiving an HTTP request to the end of its response.",
    ["service", "method", "route"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
EVENTS_PUBLISHED = Counter(
    "prisme_events_published",
    "Events published to JetStream (acknowledged by the server).",
    ["subject"],
    registry=REGISTRY,
)
EVENTS_CONSUMED = Counter(
    "prisme_events_consumed",
    "Events handled by a durable consumer, by outcome (ok|duplicate|error|dead_letter).",
    ["durable", "subject", "outcome"],
    registry=REGISTRY,
)
OUTBOX_PENDING = Gauge(
    "prisme_outbox_pending",
    "Outbox rows not yet acknowledged by JetStream.",
    registry=REGISTRY,
)
OUTBOX_FAILING = Gauge(
    "prisme_outbox_failing",
    "Unsent outbox rows whose last publish failed, set aside until their next attempt.",
    registry=REGISTRY,
)
OUTBOX_PUBLISH_FAILURES = Counter(
    "prisme_outbox_publish_failures",
    "Failed attempts to publish an outbox row (the row is retried with back-off).",
    registry=REGISTRY,
)
OUTBOX_LAG = Gauge(
    "prisme_outbox_lag_seconds",
    "Age in seconds of the oldest unsent outbox row not set aside by a failure (0 if none).",
    registry=REGISTRY,
)
DEAD_LETTERS = Counter(
    "prisme_dead_letters",
    "Messages moved to the dead-letter stream after their last delivery attempt.",
    ["durable", "subject"],
    registry=REGISTRY,
)

JOBS = Gauge(
    "prisme_jobs",
    "Jobs of the durable job queue by kind and state (queue depth: state=queued).",
    ["kind", "state"],
    registry=REGISTRY,
)
JOBS_OLDEST_READY = Gauge(
    "prisme_jobs_oldest_ready_seconds",
    "Seconds the oldest ready (queued and due) job of a kind has been waiting (0: none).",
    ["kind"],
    registry=REGISTRY,
)
JOBS_DEAD = Gauge(
    "prisme_jobs_dead",
    "Dead jobs of a kind (attempts spent or refused for good), waiting for an operator.",
    ["kind"],
    registry=REGISTRY,
)
JOB_RUNS = Counter(
    "prisme_job_runs",
    "Handler runs of the job queue by kind and outcome (succeeded|proceeded|retried|dead|lost).",
    ["kind", "outcome"],
    registry=REGISTRY,
)


def render() -> tuple[bytes, str]:
    """The Prometheus text exposition of :data:`REGISTRY` and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
