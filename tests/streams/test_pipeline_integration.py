"""End to end on real Kafka, real Weaviate and the real engines: the worker runs as its own process."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from encoders.config import SHIPPED_MODEL_DIR, AmpereConfig
from encoders.dataset import Dataset
from engines.store.weaviate_store import WeaviateStore, connect
from streams.kafka import KafkaConfig, async_producer
from streams.kafka.admin import ensure_topics
from streams.kafka.topics import TopicNames
from streams.sdk.publish import merge_streams, product_message, replay, send_all, stream_messages
from streams.settings import Settings
from streams.worker.ingest import apply_message, window_config
from streams.worker.windowing import close_all
from tests.conftest import IsolatedSettings
from tests.streams.mini_dataset import make_mini_dataset
from tooling.consume import spawn_worker
from tooling.demo import Subscriber, settings_env

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

STREAMS = ["live-0", "live-1"]


def _settings(isolated_settings: IsolatedSettings, summarizer: str) -> Settings:
    return isolated_settings(
        summarizer=summarizer,
        window_ms=10_000,
        hop_ms=10_000,
        grace_ms=1_000,
        idle_close_ms=4_000,
        topic_partitions=2,
    )


def expected_windows(ds: Dataset, settings: Settings, streams: list[str] = STREAMS) -> set[tuple[str, int, int]]:
    """The windows the worker must produce for ``streams`` of ``ds``."""
    topics = TopicNames(settings.topic_prefix)
    return timeline_windows(merge_streams([stream_messages(ds, s, ds.streams()[s], topics) for s in streams]), settings)


def timeline_windows(timeline: list, settings: Settings) -> set[tuple[str, int, int]]:
    """The windows of a replayed timeline without faults, computed offline with the worker's pure functions."""
    topics, cfg = TopicNames(settings.topic_prefix), window_config(settings)
    states: dict = {}
    out = set()
    for _, m in timeline:
        sid = m.key.decode()
        st, applied, _ = apply_message(m.topic, m.value, states.get(sid), 0.0, settings, cfg, topics)
        states[sid] = st
        out |= {(c.stream_id, c.start_ms, c.end_ms) for c in applied.closed}
    for st in states.values():
        out |= {(c.stream_id, c.start_ms, c.end_ms) for c in close_all(st, "stream_end", cfg)}
    return out


def _store(settings: Settings) -> WeaviateStore:
    store = WeaviateStore(connect(settings.weaviate_url, settings.weaviate_grpc_port), settings.collection_prefix)
    store.ensure_collections()
    return store


def _stored_windows(store: WeaviateStore, kind: str = "live") -> list[tuple[str, int, int]]:
    coll = store.client.collections.get(store.name(kind))
    return [(o.properties["stream_id"], o.properties["start_ms"], o.properties["end_ms"]) for o in coll.iterator()]


async def _send_raw(kafka: KafkaConfig, items: list[tuple[str, bytes, bytes]]) -> None:
    p = async_producer(kafka)
    await p.start()
    try:
        for topic, key, value in items:
            await p.send_and_wait(topic, value, key=key)
    finally:
        await p.stop()


def _stop(worker) -> None:
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(30)
        except Exception:  # noqa: BLE001
            worker.kill()


async def _wait_products(store: WeaviateStore, n: int, worker, log: Path, timeout_s: float = 600) -> None:
    t0 = time.time()
    while store.count("product") < n:
        assert worker.poll() is None, f"worker exited: {log.read_text()[-3000:]}"
        assert time.time() - t0 < timeout_s, "catalog was not indexed in time"
        await asyncio.sleep(1)


def test_streams_are_indexed_tagged_and_bad_input_goes_to_the_dlq(isolated_settings, tmp_path) -> None:
    settings = _settings(isolated_settings, "llamacpp")
    topics = TopicNames(settings.topic_prefix)
    ds = make_mini_dataset(tmp_path / "data")
    expected = expected_windows(ds, settings)
    expected_video = expected_windows(ds, settings, ["video-0"])
    ensure_topics(settings, topics.all(), settings.topic_partitions)
    store = _store(settings)
    worker = spawn_worker(settings_env(settings), tmp_path / "worker.log")

    async def run() -> Subscriber:
        sub = Subscriber(settings.kafka, topics)
        await sub.start()
        await send_all(settings.kafka, [product_message(ds, p, topics) for p in ds.products])
        await _wait_products(store, len(ds.products), worker, tmp_path / "worker.log")
        await _send_raw(
            settings.kafka,
            [
                (topics.asr, b"live-0", b"{this is not json"),
                (topics.keyframes, b"live-0", b'{"stream_id": "live-0", "ts_ms": 5, "image_b64": "bm90IGFuIGltYWdl"}'),
                (topics.events, b"ghost", b'{"stream_id": "ghost", "ts_ms": 1, "type": "end"}'),
            ],
        )
        timeline = merge_streams([stream_messages(ds, s, ds.streams()[s], topics) for s in [*STREAMS, "video-0"]])
        await replay(settings.kafka, timeline, speed=0)
        await sub.wait_done(settle_s=8, timeout_s=900, alive=lambda: worker.poll() is None)
        await sub.stop()
        return sub

    try:
        sub = asyncio.run(run())
        assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
    finally:
        _stop(worker)
    rep = sub.report
    first = [e["object_id"] for e in rep.embeddings if e["revision"] == 1]
    assert len(first) == len(set(first)) == len(expected) + len(expected_video), "each window once as revision 1"
    assert {e["summary_source"] for e in rep.embeddings if e["revision"] == 1} <= {"extractive", "empty"}
    refined = [e for e in rep.embeddings if e["revision"] == 2]
    assert len({e["object_id"] for e in refined}) == len(refined) and {e["object_id"] for e in refined} <= set(first)
    assert refined, "the LLM refined windows (revision 2)"
    assert all(e["summary_source"] == "llamacpp" for e in refined), "revision 2 carries the LLM summary"
    assert sorted(_stored_windows(store)) == sorted(expected), "each live window exactly once in Weaviate"
    assert sorted(_stored_windows(store, "video")) == sorted(expected_video), "short videos in VideoMoment"
    assert {e["kind"] for e in rep.embeddings} == {"live", "video"}
    for e in rep.embeddings:
        v = np.asarray(e["vector"], dtype=np.float32)
        assert v.shape == (AmpereConfig.load(SHIPPED_MODEL_DIR).dim,) and abs(float(np.linalg.norm(v)) - 1.0) < 1e-3
    catalog = {p.product_id for p in ds.products}
    assert len([t for t in rep.tags if t["revision"] == 1]) == len(expected)
    assert len([t for t in rep.tags if t["revision"] == 2]) == len([e for e in refined if e["kind"] == "live"])
    assert all(t["products"] and t["products"][0]["product_id"] in catalog for t in rep.tags)
    reasons = sorted(d["reason"] for d in rep.dlq)
    assert len(reasons) == 3, reasons
    assert any("not valid JSON" in r for r in reasons)
    assert any("undecodable image" in r for r in reasons)
    assert any("unknown stream" in r for r in reasons)
    sources = {e["summary"]["source"] for e in rep.embeddings}
    assert sources <= {"llamacpp", "extractive", "empty"}
    store.drop()
    store.close()


def test_sigkill_mid_stream_loses_no_window_and_duplicates_no_object(isolated_settings, tmp_path) -> None:
    settings = _settings(isolated_settings, "extractive")
    topics = TopicNames(settings.topic_prefix)
    ds = make_mini_dataset(tmp_path / "data", seed=11)
    expected = expected_windows(ds, settings)
    ensure_topics(settings, topics.all(), settings.topic_partitions)
    store = _store(settings)
    log = tmp_path / "worker.log"
    worker = spawn_worker(settings_env(settings), log)

    async def run() -> None:
        nonlocal worker
        sub = Subscriber(settings.kafka, topics)
        await sub.start()
        await send_all(settings.kafka, [product_message(ds, p, topics) for p in ds.products])
        await _wait_products(store, len(ds.products), worker, log)
        timeline = merge_streams([stream_messages(ds, s, ds.streams()[s], topics) for s in STREAMS])
        span_s = timeline[-1][0] / 1000
        sending = asyncio.create_task(replay(settings.kafka, timeline, speed=span_s / 12))  # ~12 s of replay
        t0 = time.time()
        while not sub.report.embeddings:
            assert time.time() - t0 < 300, "no window was indexed before the kill"
            await asyncio.sleep(0.2)
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
        worker = spawn_worker(settings_env(settings), log)
        await sending
        await sub.wait_done(settle_s=10, timeout_s=900, alive=lambda: worker.poll() is None)
        await sub.stop()

    try:
        asyncio.run(run())
        assert worker.poll() is None, log.read_text()[-3000:]
    finally:
        _stop(worker)
    stored = _stored_windows(store)
    assert len(stored) == len(set(stored)), "no object duplicated"
    assert set(stored) == expected, f"missing {expected - set(stored)}, unexpected {set(stored) - expected}"
    assert store.count("live") == len(expected)
    store.drop()
    store.close()
