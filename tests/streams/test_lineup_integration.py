"""Lineups end to end on the real broker, Weaviate and engines: a stream that declares its products (and
one id the catalog lacks), and a stream whose lineup is wrong (it shows products off its lineup)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from streams.kafka.admin import ensure_topics
from streams.kafka.topics import TopicNames
from streams.ops.counters import read_all
from streams.sdk.publish import merge_streams, product_message, stream_messages
from streams.worker.window_stage import counters_path
from tests.streams.mini_dataset import make_mini_dataset
from tests.streams.test_pipeline_integration import _settings, _store
from tests.streams.worker_run import run_worker_on
from tooling.demo import Subscriber, latest_segments, latest_tags, settings_env

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]


def test_tags_search_the_lineup_first_report_unknown_ids_and_a_wrong_lineup_forces_no_claim_and_segments_follow(
    isolated_settings, tmp_path: Path, monkeypatch
) -> None:
    settings = _settings(isolated_settings, "extractive")
    topics = TopicNames(settings.topic_prefix)
    ds = make_mini_dataset(tmp_path / "data")
    streams = ds.streams()
    shown = {s: {m.product_id for m in streams[s]} for s in ("live-0", "live-1")}
    declared = {"live-0": [*sorted(shown["live-0"]), "p-not-in-catalog"], "live-1": sorted(shown["live-0"])}
    ensure_topics(settings, topics.all(), settings.topic_partitions)
    store = _store(settings)
    timeline = merge_streams([stream_messages(ds, s, streams[s], topics, lineup=declared[s]) for s in declared])
    sub = run_worker_on(settings, store, [product_message(ds, p, topics) for p in ds.products], timeline, tmp_path)
    tags = {s: [t for t in sub.report.tags if t["stream_id"] == s] for s in declared}
    assert tags["live-0"] and tags["live-1"]
    right = [t for t in tags["live-0"] if t["products"][0]["product_id"] in shown["live-0"]]
    assert right and all(t["scope"] == "lineup" for t in right), [(t["scope"], t["products"][0]) for t in tags["live-0"]]
    assert all({p["product_id"] for p in t["products"]} <= set(declared["live-0"]) for t in right)
    assert all(t["lineup_unknown"] == ["p-not-in-catalog"] for t in tags["live-0"])
    for t in tags["live-1"]:  # its lineup names the other stream's products: none of them may be claimed
        first = t["products"][0]["product_id"]
        assert not (t["claimed"] and first in shown["live-0"]), t
    reports = [d for d in sub.report.dlq if "p-not-in-catalog" in d["reason"]]
    assert len(reports) == 1 and reports[0]["topic"] == topics.events, sub.report.dlq
    assert base64.b64decode(reports[0]["key_b64"]) == b"live-0"
    # nothing else is refused, but for what a replay at full speed may cause: the events topic is read
    # apart from the ASR and keyframe topics, so a product switch can arrive after the windows it splits
    others = [d["reason"] for d in sub.report.dlq if d not in reports]
    assert all(r.startswith("late product switch") for r in others), others
    counters = read_all(counters_path(settings).parent)
    assert counters.get("lineup_unknown_products") == 1, counters
    try:
        check_segments(sub, store, settings, monkeypatch)
    finally:
        store.drop()
        store.close()


def check_segments(sub: Subscriber, store, settings, monkeypatch) -> None:
    """Every window tag lies in one published segment of its stream (one per product switch), the store
    holds the newest revision of each, and the CLI exports them as chapters."""
    tags = latest_tags(sub.report.tags)
    published = latest_segments(sub.report.segments)
    assert published, "no segment was published"
    by_start: dict[tuple[str, int], list[dict]] = {}
    for t in tags:
        by_start.setdefault((t["stream_id"], t["segment_start_ms"]), []).append(t)
    assert {(g["stream_id"], g["segment_start_ms"]) for g in published} == set(by_start)
    for g in published:
        mine = by_start[(g["stream_id"], g["segment_start_ms"])]
        assert g["windows"] == len(mine), (g, len(mine))
        assert (g["start_ms"], g["end_ms"]) == (min(t["window"][0] for t in mine), max(t["window"][1] for t in mine))
        claims = {t["products"][0]["product_id"] for t in mine if t["claimed"]}
        if len(claims) == 1:
            assert g["claimed"] and g["product_id"] in claims and g["basis"] == "window", g
    switches = {s: sum(1 for g in published if g["stream_id"] == s) for s in ("live-0", "live-1")}
    late = {base64.b64decode(d["key_b64"]).decode() for d in sub.report.dlq
            if d["reason"].startswith("late product switch") and d.get("key_b64")}
    # the mini streams switch product (a switch a full-speed replay delivered late opens no segment)
    assert all(n >= 2 for s, n in switches.items() if s not in late) and all(switches.values()), (switches, late)
    stored = {r["segment_id"]: r for s in switches for r in store.find("segment", {"stream_id": s}, 100)}
    assert {g["segment_id"]: g["revision"] for g in published} == {k: r["revision"] for k, r in stored.items()}
    for name, value in settings_env(settings).items():
        monkeypatch.setenv(name, value)
    from streams.settings import get_settings

    get_settings.cache_clear()
    from typer.testing import CliRunner

    from tooling.cli import app

    try:
        res = CliRunner().invoke(app, ["segments", "--stream", "live-0", "--chapters", "vtt"])
    finally:
        get_settings.cache_clear()  # the next test reads its own environment
    assert res.exit_code == 0, res.output
    assert res.output.startswith("WEBVTT") and res.output.count("-->") == switches["live-0"], res.output
