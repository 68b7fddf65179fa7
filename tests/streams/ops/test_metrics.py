"""Unit tests of the worker's metrics: reason classes, what each observe call moves, the window sample."""

from __future__ import annotations

from types import SimpleNamespace

from streams.ops import metrics


def _value(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


def test_the_error_type_decides_the_dead_letter_class_not_its_text() -> None:
    """Classes once came from regexes over the reason text, so rewording a message reclassified it."""
    from streams.errors import PermanentError
    from streams.kafka.topics import TopicNames
    from streams.schemas import BadRecord, LateInput, NotJson, TooLarge, dlq_reason
    from streams.settings import Settings
    from streams.worker.ingest import apply_message, window_config

    assert dlq_reason(NotJson("any wording at all")) == ("any wording at all", "invalid_json")
    assert dlq_reason(TooLarge("not valid JSON (a misleading text)"))[1] == "too_large"
    assert dlq_reason(LateInput("x"))[1] == "late"
    assert dlq_reason(BadRecord("x"))[1] == "invalid"
    assert dlq_reason(PermanentError("store upsert refused after 3 tries"))[1] == "store_refused"
    assert dlq_reason(KeyError("x")) == ("unexpected KeyError: 'x'", "unexpected")
    s, t = Settings(), TopicNames("t")
    cases = {
        b"{not json": "invalid_json",
        b"": "empty",
        b'{"stream_id": "s", "seq": 0, "start_ms": 5, "end_ms": 1, "text": "x"}': "schema",
        b'{"stream_id": "s", "seq": 0, "start_ms": 0, "end_ms": 1}': "schema",
    }
    for raw, kind in cases.items():
        try:
            apply_message(t.asr, raw, None, 0.0, s, window_config(s), t)
        except BadRecord as exc:
            assert exc.kind == kind, (raw, exc.kind, exc.reason)
        else:
            raise AssertionError(f"{raw!r} was accepted")


def test_fallback_counts_follow_the_summary_class_not_its_reason_text() -> None:
    from engines.summarize.schema import Summary

    def fallbacks(reason: str) -> float:
        return _value("ampere_summary_fallbacks_total", reason=reason)

    before = {c: fallbacks(c) for c in ("timeout", "shed", "error")}
    metrics.observe_summaries("llamacpp", 0.1, [
        Summary(has_product=False, fallback_reason="error: the call took too long", fallback_class="timeout"),
        Summary(has_product=False, fallback_reason="timeout of the queue: skipped", fallback_class="shed"),
        Summary(has_product=False, fallback_reason="shed nothing; the server said 500", fallback_class="error"),
    ])
    assert {c: fallbacks(c) - before[c] for c in before} == {"timeout": 1, "shed": 1, "error": 1}


def test_observe_calls_move_their_series() -> None:
    before_dlq = _value("ampere_dlq_messages_total", topic="t.asr", reason_class="invalid_json")
    metrics.count_dlq("t.asr", "invalid_json")
    assert _value("ampere_dlq_messages_total", topic="t.asr", reason_class="invalid_json") == before_dlq + 1

    before_shed = _value("ampere_summary_fallbacks_total", reason="shed")
    before_n = _value("ampere_summarize_seconds_count", engine="unit")
    summaries = [SimpleNamespace(fallback_reason="shed: waited 9s > 5s", fallback_class="shed"), SimpleNamespace(fallback_reason=None)]
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

    from streams.ops.counters import NAMES, LossCounters

    c = LossCounters()
    metrics.export_counters(c.snapshot)
    c.add("offsets_skipped", 3)
    c.add("batch_errors")
    text = generate_latest(metrics.REGISTRY).decode()
    assert 'ampere_events_total{event="offsets_skipped"} 3.0' in text
    assert 'ampere_events_total{event="batch_errors"} 1.0' in text
    assert all(f'event="{name}"' in text for name in NAMES)
