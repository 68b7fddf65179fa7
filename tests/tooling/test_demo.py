"""Unit tests of the demo's pure helpers: percentiles, ground truth of a window, report numbers."""

from __future__ import annotations

import math

from encoders.dataset import AsrChunk, Keyframe, MomentRecord
from tooling.demo import RunReport, percentile, summarize_report, truth_for


def test_nearest_rank_percentile() -> None:
    vals = [float(v) for v in range(1, 101)]
    assert percentile(vals, 50) == 50.0 and percentile(vals, 99) == 99.0 and percentile(vals, 100) == 100.0
    assert percentile([3.0], 99) == 3.0
    assert math.isnan(percentile([], 50))


def test_truth_is_the_segment_overlapping_most() -> None:
    moments = [
        MomentRecord("a", "live", "s", "p1", [AsrChunk(0, 9_000, "x")], [Keyframe(500, "i")]),
        MomentRecord("b", "live", "s", "p2", [AsrChunk(9_000, 30_000, "y")], []),
    ]
    assert truth_for(moments, 0, 10_000) == "p1"
    assert truth_for(moments, 5_000, 30_000) == "p2"
    assert truth_for(moments, 40_000, 50_000) is None


def test_report_counts_claims_against_truth() -> None:
    rep = RunReport(
        tags=[
            {"stream_id": "s", "window": [0, 10], "claimed": True, "products": [{"product_id": "p1"}, {"product_id": "p2"}]},
            {"stream_id": "s", "window": [10, 20], "claimed": True, "products": [{"product_id": "p3"}, {"product_id": "p2"}]},
            {"stream_id": "s", "window": [20, 30], "claimed": False, "products": [{"product_id": "p9"}]},
        ],
        visible_lag_s=[1.0, 2.0],
        queryable_lag_s=[0.5, 1.5],
        windows=3,
        wall_s=3.0,
    )
    rep.truth = {("s", (0, 10)): "p1", ("s", (10, 20)): "p2", ("s", (20, 30)): "p4"}  # type: ignore[attr-defined]
    res = summarize_report(rep)
    assert (res["claimed"], res["top1_correct_of_claimed"], res["top3_hit"]) == (2, 1, 2)
    assert res["visible_p99_s"] == 2.0 and res["windows_per_s"] == 1.0


def test_felt_lag_runs_from_the_last_record_of_the_window() -> None:
    from tooling.demo import felt_lags

    sent = {"s": [(0, 100.0), (5_000, 105.0), (9_999, 109.0), (10_000, 110.0)]}
    emb = [
        {"stream_id": "s", "window": [0, 10_000], "indexed_at": 111.5, "revision": 1},
        {"stream_id": "s", "window": [0, 10_000], "indexed_at": 150.0, "revision": 2},
        {"stream_id": "x", "window": [0, 10_000], "indexed_at": 1.0, "revision": 1},
    ]
    assert felt_lags(emb, sent) == [2.5]


def test_knee_is_the_most_realtime_streams_within_the_bound() -> None:
    from tooling.bench.freshness import knee

    rows = [
        {"realtime_streams": 4, "batched": True, "queryable_p99_s": 0.8},
        {"realtime_streams": 40, "batched": True, "queryable_p99_s": 1.9},
        {"realtime_streams": 200, "batched": True, "queryable_p99_s": 7.0},
        {"realtime_streams": 400, "batched": False, "queryable_p99_s": 1.0},
    ]
    assert knee(rows) == 40
    assert knee(rows[2:3]) is None


def test_latest_tags_keep_the_refined_revision() -> None:
    from tooling.demo import latest_tags

    tags = [
        {"stream_id": "s", "window": [0, 1], "revision": 2, "products": ["b"]},
        {"stream_id": "s", "window": [0, 1], "revision": 1, "products": ["a"]},
        {"stream_id": "s", "window": [1, 2], "revision": 1, "products": ["c"]},
    ]
    assert sorted(t["products"][0] for t in latest_tags(tags)) == ["b", "c"]


def test_subscriber_counts_only_the_streams_of_its_run() -> None:
    """An earlier run's window, indexed late by a worker that resumed its group, is not this run's
    (it once put a 2,337 s close → queryable figure into a 1-stream freshness row)."""
    import base64

    from streams.kafka import KafkaConfig
    from streams.kafka.topics import TopicNames
    from tooling.demo import Subscriber

    topics = TopicNames("ampere")
    sub = Subscriber(KafkaConfig("127.0.0.1:1"), topics, streams=["live-000#run-0-0"])
    old = {"kind": "live", "stream_id": "live-000#old-0-0", "window": [0, 10], "closed_at": 1.0, "indexed_at": 2338.0}
    mine = {"kind": "live", "stream_id": "live-000#run-0-0", "window": [0, 10], "closed_at": 5.0, "indexed_at": 5.5}
    for rec in (old, mine):
        sub._win({"stream_id": rec["stream_id"], "start_ms": 0, "end_ms": 10, "domain": "live"})
        sub._emb(rec)
        sub._tag(rec | {"claimed": False, "products": []})
        sub._dlq({"topic": topics.asr, "key_b64": base64.b64encode(rec["stream_id"].encode()).decode()})
    assert sub.report.queryable_lag_s == [0.5]
    assert [t["stream_id"] for t in sub.report.tags] == ["live-000#run-0-0"]
    assert len(sub.report.embeddings) == 1 and len(sub.report.dlq) == 1
    assert sub.closed == {("live-000#run-0-0", 0, 10)}


def test_an_unclaimed_tag_line_says_why_and_the_best_guess() -> None:
    """The demo said "no product above threshold" for every unclaimed tag, also under the calibrated rule."""
    from tooling.demo import format_tag

    rec = {"window": [0, 15_700], "stream_id": "live-1", "claimed": False, "revision": 1,
           "unclaimed_reason": "top score 0.700 below 0.781 (visual+text window)",
           "products": [{"product_id": "p1", "title": "Instant Camera", "score": 0.7}]}
    line = format_tag(rec, "p1")
    assert "not claimed: top score 0.700 below 0.781" in line and "best guess Instant Camera 0.70" in line
    claimed = format_tag({**rec, "claimed": True, "unclaimed_reason": None}, "p1")
    assert "Instant Camera" in claimed and "✓" in claimed and "not claimed" not in claimed


def test_staggered_starts_spread_evenly_over_the_span() -> None:
    from tooling.demo import stagger_starts

    assert stagger_starts(4, 30_000) == [0, 7_500, 15_000, 22_500]
    assert stagger_starts(1, 30_000) == [0] and stagger_starts(0, 30_000) == []


def test_a_run_waits_out_the_idle_close_before_it_counts_as_done() -> None:
    """It waited end_settle + 5 s (6.5 s) while a stream's last window may close only after 10 s of quiet:
    twice a 50-stream run ended with 8 windows still open (300 of 308 indexed)."""
    from streams.settings import Settings
    from tooling.demo import quiet_needed_s

    s = Settings()
    assert quiet_needed_s(s) > s.idle_close_ms / 1000 and quiet_needed_s(s) > s.end_settle_ms / 1000
    assert quiet_needed_s(s.model_copy(update={"idle_close_ms": 1_000, "end_settle_ms": 30_000})) > 30
