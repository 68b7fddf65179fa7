"""Every Prometheus metric of the worker, defined in one place (names documented in docs/OPERATIONS.md).

The agents call the small ``observe_*`` / ``count_*`` functions below, one line each; consumer lag is
read from the broker when ``/metrics`` is scraped (``streams.ops.health``), so it is right even when the
worker's event loop is stuck.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily

REGISTRY = CollectorRegistry(auto_describe=True)

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_FRESHNESS_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 7.5, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0)

CONSUMER_LAG = Gauge(
    "ampere_consumer_lag_messages",
    "Messages of a partition not yet committed by the worker group (broker view, read at scrape).",
    ["topic", "partition"],
    registry=REGISTRY,
)
CLOSE_TO_QUERYABLE = Histogram(
    "ampere_window_close_to_queryable_seconds",
    "Window close to the upsert of its revision accepted by the store (revision 2 = refined).",
    ["kind", "revision"],
    buckets=_FRESHNESS_BUCKETS,
    registry=REGISTRY,
)
SUMMARIZE_SECONDS = Histogram(
    "ampere_summarize_seconds",
    "Latency of one summarizer call (a batch of windows).",
    ["engine"],
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
SUMMARY_FALLBACKS = Counter(
    "ampere_summary_fallbacks_total",
    "Summaries made by the extractive fallback instead of the configured engine, by reason class.",
    ["reason"],
    registry=REGISTRY,
)
ENCODE_BATCH_SECONDS = Histogram(
    "ampere_encode_batch_seconds",
    "Latency of one encoder batch.",
    ["kind"],
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
STORE_UPSERT_SECONDS = Histogram(
    "ampere_store_upsert_seconds",
    "Latency of one store upsert batch that succeeded.",
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
STORE_RETRIES = Counter(
    "ampere_store_retries_total",
    "Failed calls to a service that were retried, by operation.",
    ["operation"],
    registry=REGISTRY,
)
OBJECTS_INDEXED = Counter(
    "ampere_objects_indexed_total",
    "Objects upserted into the store and published on the embeddings topic, by kind.",
    ["kind"],
    registry=REGISTRY,
)
DLQ_MESSAGES = Counter(
    "ampere_dlq_messages_total",
    "Messages sent to the dead-letter topic, by source topic and reason class.",
    ["topic", "reason_class"],
    registry=REGISTRY,
)
WINDOWS_CLOSED = Counter(
    "ampere_windows_closed_total",
    "Windows closed by the window agent, by close reason.",
    ["reason"],
    registry=REGISTRY,
)
WINDOWS_OPEN = Gauge(
    "ampere_windows_open",
    "Windows open in the window state of this worker's partitions.",
    registry=REGISTRY,
)
STREAMS_TRACKED = Gauge(
    "ampere_streams_tracked",
    "Streams with state in this worker's partitions.",
    registry=REGISTRY,
)
TAGS_PUBLISHED = Counter(
    "ampere_tags_published_total",
    "Tag records published, by whether the best product cleared the score threshold.",
    ["claimed"],
    registry=REGISTRY,
)
TAGS_UNCALIBRATED = Counter(
    "ampere_tags_uncalibrated_total",
    "Tags not claimed because the claim rule was calibrated for another model, engine or scoring rule.",
    registry=REGISTRY,
)
ENGINES_LOADED = Gauge(
    "ampere_engines_loaded",
    "1 once the summarizer, encoder and store are loaded and connected.",
    registry=REGISTRY,
)
LOOP_HEARTBEAT = Gauge(
    "ampere_loop_heartbeat_timestamp_seconds",
    "Unix time of the last tick of the worker's event loop.",
    registry=REGISTRY,
)

# Dead letters carry their class from the error type (streams.schemas.dlq_reason) and summary fallbacks
# theirs from the failure type (Summary.fallback_class), never from their text.


# ----------------------------------------------------------------------------- calls from the agents
def count_dlq(topic: str, reason_class: str) -> None:
    """One dead letter of ``topic``; ``reason_class`` comes from the error's type (``dlq_reason``)."""
    DLQ_MESSAGES.labels(topic=topic, reason_class=reason_class).inc()


def count_closed(windows: Sequence[Any]) -> None:
    for w in windows:
        WINDOWS_CLOSED.labels(reason=str(getattr(w, "reason", "") or "unknown")).inc()


def count_retry(operation: str) -> None:
    STORE_RETRIES.labels(operation=operation).inc()


def observe_summaries(engine: str, seconds: float, summaries: Sequence[Any]) -> None:
    """One summarizer call: its latency and the fallbacks among its summaries."""
    SUMMARIZE_SECONDS.labels(engine=engine).observe(seconds)
    for s in summaries:
        if getattr(s, "fallback_reason", None):
            SUMMARY_FALLBACKS.labels(reason=getattr(s, "fallback_class", None) or "other").inc()


def count_engine_failure(n: int) -> None:
    """The summarizer raised: ``n`` windows got the extractive summary."""
    SUMMARY_FALLBACKS.labels(reason="engine_raised").inc(n)


def observe_encode(kind: str, seconds: float) -> None:
    ENCODE_BATCH_SECONDS.labels(kind=kind).observe(seconds)


def observe_upsert(seconds: float, records: Sequence[Any], now: float | None = None) -> None:
    """A store upsert that succeeded: its latency, and close → queryable of every window in it."""
    STORE_UPSERT_SECONDS.observe(seconds)
    now = time.time() if now is None else now
    for r in records:
        kind = getattr(r, "kind", "") or "unknown"
        OBJECTS_INDEXED.labels(kind=kind).inc()
        closed_at = getattr(r, "closed_at", None)
        if closed_at:
            revision = str(getattr(r, "revision", 1) or 1)
            CLOSE_TO_QUERYABLE.labels(kind=kind, revision=revision).observe(max(0.0, now - closed_at))


def count_tag(claimed: bool, uncalibrated: bool = False) -> None:
    TAGS_PUBLISHED.labels(claimed=str(bool(claimed)).lower()).inc()
    if uncalibrated:
        TAGS_UNCALIBRATED.inc()


def observe_census(streams: int, windows_open: int) -> None:
    """Streams tracked and windows open in the window stage."""
    STREAMS_TRACKED.set(streams)
    WINDOWS_OPEN.set(windows_open)


_heartbeat = [0.0]


def beat(now: float | None = None) -> None:
    """The worker's event loop is alive."""
    _heartbeat[0] = time.time() if now is None else now
    LOOP_HEARTBEAT.set(_heartbeat[0])


def last_heartbeat() -> float:
    """Unix time of the last ``beat`` (0 = never)."""
    return _heartbeat[0]


class _Events:
    """``ampere_events_total{event}``: every name of the worker's counter registry (``streams.ops.counters``),
    the window stage's loss counters and the agents' events alike, zeros included."""

    def __init__(self) -> None:
        self.source: Callable[[], Mapping[str, int]] = dict

    def collect(self) -> Iterator[CounterMetricFamily]:
        fam = CounterMetricFamily(
            "ampere_events",
            "What the worker counts (streams/ops/counters.py): offsets skipped, late input, budget closes, "
            "refinements shed, stale writes skipped, failed batches, ...",
            labels=["event"],
        )
        for event, n in sorted(self.source().items()):
            fam.add_metric([event], n)
        yield fam


_EVENTS = _Events()
REGISTRY.register(_EVENTS)


def export_counters(snapshot: Callable[[], Mapping[str, int]]) -> None:
    """Export ``snapshot()`` (the counter registry's) as ``ampere_events_total`` on every scrape."""
    _EVENTS.source = snapshot


def install(
    app: Any, census: Callable[[], tuple[int, int]], counters: Callable[[], Mapping[str, int]] = dict,
    interval_s: float = 2.0,
) -> None:
    """Add a timer to the Faust app that beats the loop heartbeat and reads the window stage's census
    (streams tracked, windows open), export the counter registry's ``counters()`` snapshot, and set
    Faust's own Prometheus sensor."""
    export_counters(counters)

    async def sample() -> None:
        beat()
        observe_census(*census())

    app.timer(interval=interval_s, name="ampere.metrics.sample")(sample)
    app.monitor = faust_monitor()


_faust_metrics: list[Any] = []


def faust_monitor() -> Any:
    """Faust's own Prometheus sensor (messages in/out per topic, commit and send latency, rebalances),
    registered once on ``REGISTRY`` under the ``faust_`` prefix."""
    from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor

    if not _faust_metrics:
        _faust_metrics.append(FaustMetrics.create(REGISTRY, "faust"))
    return PrometheusMonitor(metrics=_faust_metrics[0])


def timed() -> Callable[[], float]:
    """``elapsed = timed(); ...; elapsed()`` — seconds since the call."""
    t0 = time.perf_counter()
    return lambda: time.perf_counter() - t0
