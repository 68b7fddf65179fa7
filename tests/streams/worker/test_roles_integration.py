"""Split roles on real Kafka + Weaviate with the real CPU LLM: a provisional worker and a refine worker
run as separate processes; every window is indexed as revision 1 once and refined as revision 2 once."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
import uuid
from collections import Counter

import pytest

from streams.kafka import KafkaConfig, group_lag_async
from streams.kafka.admin import ensure_topics
from streams.kafka.topics import TopicNames
from streams.sdk.publish import merge_streams, replay, stream_messages
from streams.settings import Settings
from streams.worker.wiring import build_store_from
from tests.streams.mini_dataset import make_mini_dataset
from tests.streams.test_pipeline_integration import STREAMS, expected_windows
from tooling.consume import spawn_worker
from tooling.demo import Subscriber, settings_env

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]


def _settings(kafka_bootstrap: str, weaviate_server) -> Settings:
    tag = uuid.uuid4().hex[:8]
    ep = weaviate_server.endpoint
    return Settings(
        kafka_bootstrap=kafka_bootstrap, weaviate_url=ep.http_url, weaviate_grpc_port=ep.grpc_port,
        topic_prefix=f"t{tag}", collection_prefix=f"T{tag}", topic_partitions=2, encoder_engine="onnx",
        window_ms=10_000, hop_ms=10_000, grace_ms=1_000, idle_close_ms=4_000,
        summarizer="llamacpp", two_phase=True,
        refine_max_lag_ms=0, llm_timeout_s=600.0,  # shed nothing, fall back on nothing: every window is refined
    )


def _stop(worker) -> None:
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()


def _role(settings: Settings, role: str, **extra) -> dict[str, str]:
    return settings_env(settings.model_copy(update={"worker_role": role, "metrics_port": 0, **extra}))


def test_provisional_and_refine_workers_index_each_window_at_both_revisions_once(
    kafka_bootstrap, weaviate_server, tmp_path
) -> None:
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (setup installs the cached wheel)")
    settings = _settings(kafka_bootstrap, weaviate_server)
    topics = TopicNames(settings.topic_prefix)
    ds = make_mini_dataset(tmp_path / "data")
    streams = STREAMS[:1]  # the CPU LLM refines a handful of windows in minutes on a shared 2-core machine
    expected = expected_windows(ds, settings, streams)
    ensure_topics(settings, topics.all(), settings.topic_partitions)
    store = build_store_from(settings)
    logs = {r: tmp_path / f"{r}.log" for r in ("provisional", "refine")}
    workers = {
        "provisional": spawn_worker(_role(settings, "provisional"), logs["provisional"]),
        "refine": spawn_worker(_role(settings, "refine"), logs["refine"]),  # its CPU bound: tests/streams/worker/test_roles.py
    }

    def alive() -> None:
        for role, w in workers.items():
            assert w.poll() is None, f"{role} worker exited: {logs[role].read_text()[-3000:]}"

    def revisions(sub: Subscriber, n: int) -> Counter:
        return Counter((e["stream_id"], *e["window"]) for e in sub.report.embeddings if e["revision"] == n)

    async def run() -> Subscriber:
        sub = Subscriber(KafkaConfig(kafka_bootstrap), topics)
        await sub.start()
        timeline = merge_streams([stream_messages(ds, s, ds.streams()[s], topics) for s in streams])
        await replay(KafkaConfig(kafka_bootstrap), timeline, speed=0)
        t0 = time.time()
        while set(revisions(sub, 2)) != expected or set(revisions(sub, 1)) != expected:
            alive()
            assert time.time() - t0 < 780, f"revisions 1 {dict(revisions(sub, 1))}, 2 {dict(revisions(sub, 2))}"
            await asyncio.sleep(1)
        await asyncio.sleep(8)  # time for a duplicate to show
        await sub.stop()
        # the refinement ran in its own consumer group, which has read every window
        assert await group_lag_async(KafkaConfig(kafka_bootstrap), f"{topics.prefix}-refine", [topics.windows]) == 0
        return sub

    try:
        sub = asyncio.run(run())
        alive()
    finally:
        for w in workers.values():
            _stop(w)
    assert revisions(sub, 1) == Counter(dict.fromkeys(expected, 1)), "each window once as revision 1"
    assert revisions(sub, 2) == Counter(dict.fromkeys(expected, 1)), "each window refined once (revision 2)"
    refined = [e for e in sub.report.embeddings if e["revision"] == 2]
    assert {e["summary_source"] for e in refined} <= {"llamacpp", "empty"}, "revision 2 carries the LLM summary"
    assert {e["summary_source"] for e in sub.report.embeddings if e["revision"] == 1} <= {"extractive", "empty"}
    stored = {(o.properties["stream_id"], o.properties["start_ms"], o.properties["end_ms"]): o.properties["revision"]
              for o in store.client.collections.get(store.name("live")).iterator()}
    assert stored == dict.fromkeys(expected, 2), "Weaviate holds each window once, refined"
    store.drop()
    store.close()
