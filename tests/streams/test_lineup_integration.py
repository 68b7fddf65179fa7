"""Lineups end to end on the real broker, Weaviate and engines: a stream that declares its products (and
one id the catalog lacks), and a stream whose lineup is wrong (it shows products off its lineup)."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import pytest

from streams.kafka.admin import ensure_topics
from streams.kafka.topics import TopicNames
from streams.ops.counters import read_all
from streams.sdk.publish import merge_streams, product_message, replay, send_all, stream_messages
from streams.worker.window_stage import counters_path
from tests.streams.mini_dataset import make_mini_dataset
from tests.streams.test_pipeline_integration import _settings, _stop, _store, _wait_products
from tooling.consume import spawn_worker
from tooling.demo import Subscriber, settings_env

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]


def test_tags_search_the_lineup_first_report_unknown_ids_and_a_wrong_lineup_forces_no_claim(
    isolated_settings, tmp_path: Path
) -> None:
    settings = _settings(isolated_settings, "extractive")
    topics = TopicNames(settings.topic_prefix)
    ds = make_mini_dataset(tmp_path / "data")
    streams = ds.streams()
    shown = {s: {m.product_id for m in streams[s]} for s in ("live-0", "live-1")}
    declared = {"live-0": [*sorted(shown["live-0"]), "p-not-in-catalog"], "live-1": sorted(shown["live-0"])}
    ensure_topics(settings, topics.all(), settings.topic_partitions)
    store = _store(settings)
    worker = spawn_worker(settings_env(settings), tmp_path / "worker.log")

    async def run() -> Subscriber:
        sub = Subscriber(settings.kafka, topics)
        await sub.start()
        await send_all(settings.kafka, [product_message(ds, p, topics) for p in ds.products])
        await _wait_products(store, len(ds.products), worker, tmp_path / "worker.log")
        timeline = merge_streams([stream_messages(ds, s, streams[s], topics, lineup=declared[s]) for s in declared])
        await replay(settings.kafka, timeline, speed=0)
        await sub.wait_done(settle_s=8, timeout_s=400, alive=lambda: worker.poll() is None)
        await sub.stop()
        return sub

    try:
        sub = asyncio.run(run())
        assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
    finally:
        _stop(worker)
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
    assert len(sub.report.dlq) == 1, [d["reason"] for d in sub.report.dlq]
    counters = read_all(counters_path(settings).parent)
    assert counters.get("lineup_unknown_products") == 1, counters
    store.drop()
    store.close()
