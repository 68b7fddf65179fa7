"""Unit tests of the worker's metrics: reason classes, what each observe call moves, the window sample."""

from __future__ import annotations

from types import SimpleNamespace

from streams import metrics


def _value(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


def test_dlq_reasons_fall_into_bounded_classes() -> None:
    cases = {
        "not valid JSON: Expecting value: line 1 column 1": "invalid_json",
        "undecodable image: cannot identify image file": "bad_image",
        "unknown stream 'ghost': 'end' event before any content": "unknown_stream",
        "ASR chunk seq=3 at 10 ms arrived after its window closed (closed until 20 ms)": "late",
        "does not match AsrChunkRecord v1: text: field required": "schema",
        "message of 9000000 bytes exceeds the limit of 8000000": "too_large",
        "unexpected KeyError: 'x'": "unexpected",
        "cannot encode: RuntimeError: boom": "encode_failed",
        "image uri not allowed (see AMPERE_IMAGE_URI_ALLOW)": "uri_not_allowed",
        "image uri could not be fetched": "bad_image",
        "image exceeds the pixel limit: too big": "too_large",
        "store upsert refused after 3 tries: StoreError: bad vector": "store_refused",
        "end_ms is before start_ms": "schema",
        "something nobody expected to read": "other",
    }
    for reason, cls in cases.items():
        assert metrics.dlq_reason_class(reason) == cls, reason


def test_fallback_reasons_fall_into_bounded_classes() -> None:
    assert metrics.fallback_reason_class("timeout") == "timeout"
    assert metrics.fallback_reason_class("shed: waited 7.1s > 5s") == "shed"
    assert metrics.fallback_reason_class("invalid output after repair: missing sentence") == "invalid_output"
    assert metrics.fallback_reason_class("error: ConnectError: refused") == "error"
    assert metrics.fallback_reason_class("cosmic rays") == "other"


def test_observe_calls_move_their_series() -> None:
    before_dlq = _value("ampere_dlq_messages_total", topic="t.asr", reason_class="invalid_json")
    metrics.count_dlq("t.asr", "not valid JSON: x")
    assert _value("ampere_dlq_messages_total", topic="t.asr", reason_class="invalid_json") == before_dlq + 1

    before_shed = _value("ampere_summary_fallbacks_total", reason="shed")
    before_n = _value("ampere_summarize_seconds_count", engine="unit")
    summaries = [SimpleNamespace(fallback_reason="shed: waited 9s > 5s"), SimpleNamespace(fallback_reason=None)]
    metrics.observe_summaries("unit", 0.3, summaries)
    assert _value("ampere_summary_fallbacks_total", reason="shed") == before_shed + 1
    assert _value("ampere_summarize_seconds_count", engine="unit") == before_n + 1

    before_q = _value("ampere_window_close_to_queryable_seconds_count", kind="live", revision="2")
    before_sum = _value("ampere_window_close_to_queryable_seconds_sum", kind="live", revision="2")
    recs = [SimpleNamespace(kind="live", closed_at=100.0, revision=2), SimpleNamespace(kind="product", closed_at=None)]
    metrics.observe_upsert(0.05, recs, now=101.5)
    assert _value("ampere_window_close_to_queryable_seconds_count", kind="live", revision="2") == before_q + 1
    assert abs(_value("ampere_window_close_to_queryable_seconds_sum", kind="live", revision="2") - before_sum - 1.5) < 1e-9
    assert _value("ampere_window_close_to_queryable_seconds_count", kind="product", revision="1") == 0.0

    before_closed = _value("ampere_windows_closed_total", reason="idle")
    metrics.count_closed([SimpleNamespace(reason="idle"), SimpleNamespace(reason="idle")])
    assert _value("ampere_windows_closed_total", reason="idle") == before_closed + 2


def test_census_sets_the_window_gauges() -> None:
    metrics.observe_census(2, 5)
    assert _value("ampere_windows_open") == 5
    assert _value("ampere_streams_tracked") == 2


def test_every_counter_of_the_registry_reaches_metrics() -> None:
    """offsets_skipped, the main loss signal, was only written to a JSON file, never exported."""
    from prometheus_client import generate_latest

    from streams.counters import NAMES, LossCounters

    c = LossCounters()
    metrics.export_counters(c.snapshot)
    c.add("offsets_skipped", 3)
    c.add("batch_errors")
    text = generate_latest(metrics.REGISTRY).decode()
    assert 'ampere_events_total{event="offsets_skipped"} 3.0' in text
    assert 'ampere_events_total{event="batch_errors"} 1.0' in text
    assert all(f'event="{name}"' in text for name in NAMES)
