"""Two-phase indexing on real Kafka + Weaviate: a provisional version (revision 1) never overwrites a
refined one (revision 2), whatever order they arrive in, after a replay and after a worker restart."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import time

import numpy as np
import pytest
from PIL import Image

from engines.summarize import build_summarizer
from engines.summarize.schema import SummaryRequest
from streams.kafka import KafkaConfig, group_lag_async
from streams.kafka.admin import ensure_topics
from streams.kafka.topics import TopicNames
from streams.schemas import SummaryRecordMsg, WindowRecord, dump_record
from streams.sdk.publish import Outgoing, send_all
from tests.conftest import IsolatedSettings
from tests.streams.test_pipeline_integration import _settings, _stop, _store
from tooling.consume import spawn_worker
from tooling.demo import settings_env

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]


def _jpeg(color: tuple[int, int, int]) -> str:
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), color).save(buf, format="JPEG")
    return base64.b64encode(buf.getvalue()).decode()


def _summary_msg(topics: TopicNames, start_ms: int, text: str, revision: int) -> Outgoing:
    w = WindowRecord(window_id=f"rv@{start_ms}", stream_id="rv", start_ms=start_ms, end_ms=start_ms + 10_000,
                     text=text, lang="en", keyframes_b64=[_jpeg((200, 40, 40))], close_reason="watermark",
                     closed_at=time.time())
    s = build_summarizer("extractive").summarize([SummaryRequest(window_id=w.window_id, text=text, lang="en")])[0]
    rec = SummaryRecordMsg(window=w, summary=s.model_dump(mode="json"), summarized_at=time.time(), revision=revision)
    return Outgoing(ts_ms=start_ms, order=revision, topic=topics.summaries, key=b"rv", value=dump_record(rec))


def _stored(store) -> dict[int, tuple[int, str, list[float]]]:
    coll = store.client.collections.get(store.name("live"))
    out = {}
    for o in coll.iterator(include_vector=True):
        out[o.properties["start_ms"]] = (o.properties["revision"], o.properties["sentence"], o.vector["fused"])
    return out


def _drained(kafka: KafkaConfig, topics: TopicNames) -> bool:
    try:
        return asyncio.run(group_lag_async(kafka, f"{topics.prefix}-worker", [topics.summaries])) == 0
    except LookupError:
        return False


def _wait(pred, worker, log, timeout_s: float = 420) -> None:
    t0 = time.time()
    while not pred():
        assert worker.poll() is None, log.read_text()[-3000:]
        assert time.time() - t0 < timeout_s, f"timed out; worker log: {log.read_text()[-3000:]}"
        time.sleep(0.5)


def test_revisions_only_move_forward(isolated_settings: IsolatedSettings, tmp_path) -> None:
    settings = _settings(isolated_settings, "extractive")
    kafka = settings.kafka
    topics = TopicNames(settings.topic_prefix)
    ensure_topics(settings, topics.all(), settings.topic_partitions)
    store = _store(settings)
    log = tmp_path / "worker.log"
    worker = spawn_worker(settings_env(settings), log)
    prov_a = _summary_msg(topics, 0, "um so this is a red ceramic coffee mug today", 1)
    ref_a = _summary_msg(topics, 0, "Ceramic Coffee Mug in red, twelve ounces, dishwasher safe", 2)
    prov_b = _summary_msg(topics, 10_000, "now a blue canvas running shoe", 1)
    ref_b = _summary_msg(topics, 10_000, "Canvas Running Shoe in blue, breathable", 2)

    try:
        # window A in order (1 then 2), window B out of order (2 then 1)
        asyncio.run(send_all(kafka, [prov_a, ref_a, ref_b, prov_b]))
        _wait(lambda: len(_stored(store)) == 2 and all(v[0] == 2 for v in _stored(store).values()), worker, log)
        _wait(lambda: _drained(kafka, topics), worker, log)  # the late provisional B too
        first = _stored(store)
        assert {k: v[0] for k, v in first.items()} == {0: 2, 10_000: 2}
        refined_b = json.loads(ref_b.value)["summary"]["sentence"]
        assert refined_b != json.loads(prov_b.value)["summary"]["sentence"]
        assert first[10_000][1] == refined_b, "the refined text stays"
        # a replay of both provisional versions, across a worker restart
        _stop(worker)
        worker = spawn_worker(settings_env(settings), log)
        asyncio.run(send_all(kafka, [prov_a, prov_b]))
        time.sleep(1)
        _wait(lambda: _drained(kafka, topics), worker, log)
        assert worker.poll() is None, log.read_text()[-3000:]
        after = _stored(store)
        assert {k: v[0] for k, v in after.items()} == {0: 2, 10_000: 2}
        for k in after:
            assert np.allclose(after[k][2], first[k][2]), "the refined vector was not overwritten"
        assert store.count("live") == 2
    finally:
        _stop(worker)
        store.drop()
        store.close()
