"""A real worker (real Kafka, real Weaviate, real encoder, extractive summarizer) exposes metrics and
health on its HTTP port, and the counters move when streams are indexed and bad input arrives."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from engines.store.weaviate_store import WeaviateStore, connect
from streams.kafka import async_producer, group_lag_async
from streams.kafka.admin import ensure_topics
from streams.kafka.topics import TopicNames, window_group
from streams.sdk.publish import merge_streams, product_message, replay, send_all, stream_messages
from tests.streams.mini_dataset import make_mini_dataset
from tooling.consume import spawn_worker
from tooling.dashboard.launch import stop, wait_http
from tooling.demo import Subscriber, settings_env
from tooling.infra import free_port

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]


def scrape(url: str) -> dict[tuple[str, tuple], float]:
    """Every sample of a Prometheus text page: (name, sorted labels) -> value."""
    text = httpx.get(url, timeout=30).text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    }


def total(samples: dict, name: str, **labels: str) -> float:
    return sum(v for (n, ls), v in samples.items() if n == name and all(dict(ls).get(k) == x for k, x in labels.items()))


def test_worker_metrics_move_and_health_reports_ready(isolated_settings, tmp_path) -> None:
    port = free_port()
    settings = isolated_settings(
        window_ms=10_000, hop_ms=10_000, grace_ms=1_000, idle_close_ms=3_000, topic_partitions=2,
        summary_max_lag_ms=1,  # every window waited longer than 1 ms: each summary is a counted fallback
        metrics_port=port,
    )
    topics = TopicNames(settings.topic_prefix)
    ds = make_mini_dataset(tmp_path / "data")
    ensure_topics(settings, topics.all(), settings.topic_partitions)
    store = WeaviateStore(connect(settings.weaviate_url, settings.weaviate_grpc_port), settings.collection_prefix)
    store.ensure_collections()
    log = tmp_path / "worker.log"
    base = f"http://127.0.0.1:{port}"
    worker = spawn_worker(settings_env(settings), log)
    try:
        wait_http(f"{base}/livez", 120, worker)
        ready_s = wait_http(f"{base}/readyz", 240, worker)
        ready = httpx.get(f"{base}/readyz").json()
        assert ready["ready"] and set(ready["checks"]) == {"engines", "kafka", "weaviate", "worker"}, ready
        before = scrape(f"{base}/metrics")

        async def run() -> Subscriber:
            sub = Subscriber(settings.kafka, topics)
            await sub.start()
            await send_all(settings.kafka, [product_message(ds, p, topics) for p in ds.products])
            p = async_producer(settings.kafka)
            await p.start()
            try:
                await p.send_and_wait(topics.asr, b"{this is not json", key=b"live-0")
            finally:
                await p.stop()
            t0 = time.time()
            while store.count("product") < len(ds.products):
                assert time.time() - t0 < 120 and worker.poll() is None, log.read_text()[-3000:]
                await asyncio.sleep(0.5)
            await replay(settings.kafka, merge_streams([stream_messages(ds, "live-0", ds.streams()["live-0"], topics)]), speed=0)
            await sub.wait_done(settle_s=4, timeout_s=300, alive=lambda: worker.poll() is None)
            await sub.stop()
            return sub

        sub = asyncio.run(run())
        t0 = time.perf_counter()
        after = scrape(f"{base}/metrics")
        scrape_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        assert httpx.get(f"{base}/readyz", timeout=30).status_code == 200
        readyz_s = time.perf_counter() - t0
        lag_left = asyncio.run(group_lag_async(settings.kafka, f"{settings.topic_prefix}-worker", [topics.products]))
        lag_left += asyncio.run(group_lag_async(settings.kafka, window_group(settings.topic_prefix),
                                          [topics.asr, topics.keyframes, topics.events]))
    finally:
        stop(worker)
    rep = sub.report
    windows = len({e["object_id"] for e in rep.embeddings})
    assert windows >= 2 and len(rep.tags) == windows

    def moved(name: str, **labels: str) -> float:
        return total(after, name, **labels) - total(before, name, **labels)

    assert moved("ampere_windows_closed_total") == windows
    assert moved("ampere_dlq_messages_total", topic=topics.asr, reason_class="invalid_json") == 1
    assert moved("ampere_window_close_to_queryable_seconds_count", kind="live", revision="1") == windows
    assert moved("ampere_window_close_to_queryable_seconds_sum", kind="live", revision="1") > 0
    assert moved("ampere_objects_indexed_total", kind="product") == len(ds.products)
    assert moved("ampere_encode_batch_seconds_count", kind="product") >= 1
    assert moved("ampere_encode_batch_seconds_count", kind="live") >= 1
    assert moved("ampere_store_upsert_seconds_count") >= 2
    assert moved("ampere_summarize_seconds_count", engine="extractive") >= 1
    assert moved("ampere_summary_fallbacks_total", reason="shed") == windows
    assert moved("ampere_tags_published_total") == len(rep.tags)
    assert ("ampere_tags_uncalibrated_total", ()) in after and moved("ampere_tags_uncalibrated_total") == 0  # the shipped rule fits
    assert moved("faust_messages_received_per_topic_total", topic=topics.windows) > 0  # Faust agents; the window stage is aiokafka
    assert total(after, "ampere_engines_loaded") == 1
    lag = {dict(ls)["topic"] + ":" + dict(ls)["partition"]: v for (n, ls), v in after.items() if n == "ampere_consumer_lag_messages"}
    assert {f"{t}:{p}" for t in topics.inputs() for p in (0, 1)} <= set(lag), lag
    assert sum(v for k, v in lag.items() if k.rsplit(":", 1)[0] in topics.inputs()) == lag_left == 0
    print(f"worker ready after {ready_s:.1f}s; /metrics scrape {scrape_s * 1000:.0f} ms; /readyz {readyz_s * 1000:.0f} ms")
    store.drop()
    store.close()
