"""The gateway's Prometheus metrics (its own registry, served at ``/metrics``)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

REGISTRY = CollectorRegistry(auto_describe=True)

REQUESTS = Counter(
    "ampere_gateway_requests_total",
    "Broadcaster records answered, by kind (events, asr, keyframes over HTTP; ws) and status (202 accepted, else the refusal).",
    ["kind", "status"],
    registry=REGISTRY,
)
PUBLISH_SECONDS = Histogram(
    "ampere_gateway_publish_seconds",
    "Time from a record's arrival to the broker's acknowledgement.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
WEBSOCKETS = Gauge("ampere_gateway_websockets", "WebSocket connections open.", registry=REGISTRY)

CONTENT_TYPE = CONTENT_TYPE_LATEST


def answered(kind: str, status: int, seconds: float | None = None) -> None:
    """One record answered with ``status``; ``seconds`` to its acknowledgement when it was accepted."""
    REQUESTS.labels(kind=kind, status=str(status)).inc()
    if seconds is not None:
        PUBLISH_SECONDS.observe(seconds)


def page() -> bytes:
    """The Prometheus text page."""
    return generate_latest(REGISTRY)
