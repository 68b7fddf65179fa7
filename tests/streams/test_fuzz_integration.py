"""Attack the running worker: a fixed corpus of poison messages plus seeded random mutations of valid
records, interleaved with a valid stream, on the real broker, worker and Weaviate.

Every message must be accepted by contract or land in the DLQ with a reason; the worker must stay up
with bounded memory; the valid stream must be indexed exactly once.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import random
import time
from dataclasses import dataclass

import numpy as np
import pytest
from PIL import Image

from streams.kafka import KafkaConfig, async_producer
from streams.kafka.admin import ensure_topics
from streams.kafka.topics import TopicNames
from streams.schemas import (
    AsrChunkRecord,
    BadRecord,
    KeyframeRecord,
    ProductRecordMsg,
    StreamEventRecord,
    parse_record,
)
from streams.sdk.publish import merge_streams, product_message, replay, send_all, stream_messages
from tests.conftest import IsolatedSettings
from tests.streams.mini_dataset import make_mini_dataset
from tests.streams.test_pipeline_integration import (
    _settings,
    _stop,
    _store,
    _stored_windows,
    _wait_products,
    expected_windows,
)
from tooling.consume import follow, spawn_worker
from tooling.demo import Subscriber, settings_env

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

#: Peak resident memory the worker may reach while it is attacked (its models alone take most of it).
RSS_LIMIT_MB = 1000


@dataclass
class Shot:
    """One message sent at the worker and what must become of it."""

    name: str
    topic: str
    key: bytes | None
    value: bytes | None
    must_dlq: bool  # True: the DLQ must hold it; False: accepted by contract, or in the DLQ with a reason
    compress: bool = False
    partition: int | None = None
    offset: int | None = None


def _png(w: int, h: int, mode: str = "1") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, (w, h)).save(buf, format="PNG")
    return buf.getvalue()


def _noise_png(side: int, seed: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 255, (side, side, 3), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def _j(obj: dict) -> bytes:
    return json.dumps(obj).encode()


def corpus(t: TopicNames, weaviate_url: str, max_image_bytes: int) -> list[Shot]:
    """The fixed corpus: one message per attack class."""
    asr = {"stream_id": "fz", "seq": 0, "start_ms": 0, "end_ms": 500, "text": "ok"}
    ev = {"stream_id": "fz", "ts_ms": 1, "type": "end"}
    bomb = base64.b64encode(_png(13_000, 13_000)).decode()
    big_ok = _noise_png(780, 1)
    assert 1_000_000 < len(big_ok) <= max_image_bytes, len(big_ok)
    shots = [
        Shot("lone surrogate", t.asr, b"fz", b'{"stream_id":"fz","seq":0,"start_ms":0,"end_ms":5,"text":"\\ud83d"}', True),
        Shot("900 KB ASR text", t.asr, b"fz", _j({**asr, "text": "a" * 900_000}), True),
        Shot("bool for int", t.asr, b"fz", _j({**asr, "seq": True}), True),
        Shot("string version", t.asr, b"fz", _j({**asr, "v": "1"}), True),
        Shot("2^63 timestamp", t.asr, b"fz", _j({**asr, "start_ms": 2**63}), True),
        Shot("1e300 timestamp", t.asr, b"fz", b'{"stream_id":"fz","seq":0,"start_ms":1e300,"end_ms":5,"text":"x"}', True),
        Shot("NaN", t.asr, b"fz", b'{"stream_id":"fz","seq":0,"start_ms":NaN,"end_ms":5,"text":"x"}', True),
        Shot("nesting bomb", t.asr, b"fz", b"[" * 200_000, True),
        Shot("invalid UTF-8", t.asr, b"fz", b"\xff\xfe\xfd", True),
        Shot("null value", t.asr, b"fz", None, True),
        Shot("empty value", t.asr, b"fz", b"", True),
        Shot("key differs from stream", t.asr, b"other", _j(asr), True),
        Shot("3000 escaped e-acute (in the char limit)", t.asr, b"fz-accent",
             _j({**asr, "stream_id": "fz-accent", "text": "\u00e9" * 3000}), False),
        Shot("gzip 6 MB ASR", t.asr, b"fz", _j({**asr, "text": "z" * 6_000_000}), True, compress=True),
        Shot("930 KB corrupt keyframe", t.keyframes, b"fz",
             _j({"stream_id": "fz", "ts_ms": 10, "image_b64": base64.b64encode(os.urandom(930_000)).decode()}), True),
        Shot("decompression bomb", t.keyframes, b"fz", _j({"stream_id": "fz", "ts_ms": 10, "image_b64": bomb}), True),
        Shot("file uri", t.keyframes, b"fz", _j({"stream_id": "fz", "ts_ms": 10, "uri": "file:///etc/passwd"}), True),
        Shot("proc path", t.keyframes, b"fz", _j({"stream_id": "fz", "ts_ms": 10, "uri": "/proc/self/environ"}), True),
        Shot("loopback service", t.keyframes, b"fz", _j({"stream_id": "fz", "ts_ms": 10, "uri": f"{weaviate_url}/v1/meta"}), True),
        Shot("not base64", t.keyframes, b"fz", _j({"stream_id": "fz", "ts_ms": 10, "image_b64": "!!!"}), True),
        Shot("gzip 6 MB keyframe", t.keyframes, b"fz", _j({"stream_id": "fz", "ts_ms": 10, "image_b64": "A" * 6_000_000}),
             True, compress=True),
        Shot("in-limit 1.x MB inline image", t.keyframes, b"fz-big",
             _j({"stream_id": "fz-big", "ts_ms": 10, "image_b64": base64.b64encode(big_ok).decode()}), False),
        Shot("unknown event type", t.events, b"fz", _j({**ev, "type": "explode"}), True),
        Shot("string timestamp", t.events, b"fz", _j({**ev, "ts_ms": "5"}), True),
        Shot("event for an unknown stream", t.events, b"ghost", _j({**ev, "stream_id": "ghost"}), True),
        Shot("17 product images", t.products, b"fz-p", _j({"product_id": "fz-p", "title": "x", "images_b64": ["AA=="] * 17}), True),
        Shot("product bomb", t.products, b"fz-p", _j({"product_id": "fz-p", "title": "x", "images_b64": [bomb]}), True),
        Shot("product file uri", t.products, b"fz-p", _j({"product_id": "fz-p", "title": "x", "image_uris": ["file:///etc/passwd"]}), True),
        Shot("product bool title", t.products, b"fz-p", _j({"product_id": "fz-p", "title": True}), True),
        # found by an adversarial run: each of these once wedged, rewrote or bloated the worker
        Shot("16 black 6300 x 6300 PNGs in one product (under the per-image limit)", t.products, b"fz-px",
             _j({"product_id": "fz-px", "title": "x", "images_b64": [base64.b64encode(_png(6300, 6300)).decode()] * 16}),
             True),
        Shot("chunk keyed by the valid stream (forged key)", t.asr, b"live-0",
             _j({**asr, "stream_id": "fz-attacker", "text": "INJECTED-BY-ATTACKER red ceramic mug"}), True),
        Shot("far-future chunk keyed by the valid stream", t.asr, b"live-0",
             _j({**asr, "stream_id": "fz-attacker", "seq": 9, "start_ms": 600_000, "end_ms": 600_500}), True),
        Shot("product switch keyed by the valid stream", t.events, b"live-0",
             _j({**ev, "stream_id": "fz-attacker", "type": "product_switch", "ts_ms": 3_000, "product_hint": "attacker"}),
             True),
        Shot("key that is not UTF-8", t.asr, b"fz\xff", _j({**asr, "stream_id": "fz\ufffd"}), True),
        Shot("gzip 5 MB event", t.events, b"fz", _j({**ev, "padding": "e" * 5_000_000}), True, compress=True),
        *[Shot(f"emoji flood chunk {i}", t.asr, b"fz-emoji",
               _j({"stream_id": "fz-emoji", "seq": i, "start_ms": i * 200, "end_ms": i * 200 + 150,
                   "text": "\U0001F600" * 4_000}), False) for i in range(100)],
    ]
    return shots


def mutations(t: TopicNames, n: int, seed: int) -> list[Shot]:
    """Seeded random mutations of valid records: dropped fields, swapped types, odd strings, raw noise."""
    rng = random.Random(seed)
    bases = [
        (t.asr, {"stream_id": "fz-m", "seq": 1, "start_ms": 100, "end_ms": 900, "text": "hello", "lang": "en"}),
        (t.keyframes, {"stream_id": "fz-m", "ts_ms": 200, "image_b64": "AA=="}),
        (t.events, {"stream_id": "fz-m", "ts_ms": 300, "type": "product_switch", "product_hint": "x"}),
        (t.products, {"product_id": "fz-mp", "title": "thing", "attributes": {"a": "b"}}),
    ]
    odd = [None, True, -1, 2**70, 1.5, "", "\u202e\u0000", "x" * 5000, [], {}, [1, "a"], {"$ref": "#"}]
    out = []
    for i in range(n):
        topic, base = rng.choice(bases)
        rec = dict(base)
        op = rng.randrange(4)
        if op == 0 and rec:
            rec.pop(rng.choice(list(rec)))
        elif op == 1:
            rec[rng.choice(list(rec))] = rng.choice(odd)
        elif op == 2:
            rec[rng.choice(["v", "type", "extra", "domain"])] = rng.choice(odd)
        value = os.urandom(rng.randrange(1, 200)) if op == 3 else json.dumps(rec).encode()
        key = (rec.get("stream_id") or rec.get("product_id") or "fz-m")
        out.append(Shot(f"mutation {i}", topic, str(key).encode(), value, False))
    return out


async def _send(kafka: KafkaConfig, shots: list[Shot]) -> None:
    plain = async_producer(kafka, max_request_size=5 * 1024 * 1024, acks="all")
    # aiokafka checks the uncompressed size; the broker checks the compressed batch, which passes
    gz = async_producer(kafka, max_request_size=16 * 1024 * 1024, acks="all", compression_type="gzip")
    await plain.start()
    await gz.start()
    try:
        for s in shots:
            md = await (gz if s.compress else plain).send_and_wait(s.topic, s.value, key=s.key)
            s.partition, s.offset = md.partition, md.offset
    finally:
        await plain.stop()
        await gz.stop()


def _acceptable(shot: Shot, t: TopicNames) -> bool:
    """Would the contract accept this message (it parses)? Then it need not be in the DLQ."""
    model = {t.asr: AsrChunkRecord, t.keyframes: KeyframeRecord, t.events: StreamEventRecord, t.products: ProductRecordMsg}
    try:
        parse_record(shot.value, model[shot.topic])
        return True
    except BadRecord:
        return False


def _peak_rss_mb(pid: int) -> float:
    for line in open(f"/proc/{pid}/status").read().splitlines():  # noqa: SIM115
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def test_poison_messages_never_stop_the_worker(isolated_settings: IsolatedSettings, tmp_path) -> None:
    settings = _settings(isolated_settings, "extractive")
    kafka = settings.kafka
    topics = TopicNames(settings.topic_prefix)
    ds = make_mini_dataset(tmp_path / "data", seed=3)
    expected = expected_windows(ds, settings, ["live-0"])
    ensure_topics(settings, topics.all(), settings.topic_partitions)
    store = _store(settings)
    log = tmp_path / "worker.log"
    worker = spawn_worker(settings_env(settings), log)
    shots = corpus(topics, settings.weaviate_url, settings.max_image_bytes) + mutations(topics, 60, seed=20261130)
    random.Random(5).shuffle(shots)

    async def run() -> list[dict]:
        sub = Subscriber(kafka, topics)
        await sub.start()
        await send_all(kafka, [product_message(ds, p, topics) for p in ds.products])
        await _wait_products(store, len(ds.products), worker, log)
        timeline = merge_streams([stream_messages(ds, "live-0", ds.streams()["live-0"], topics)])
        span_s = timeline[-1][0] / 1000
        valid = asyncio.create_task(replay(kafka, timeline, speed=span_s / 10))
        t0 = time.time()
        await _send(kafka, shots)
        sent_s = time.time() - t0
        await valid
        await sub.wait_done(settle_s=8, timeout_s=600, alive=lambda: worker.poll() is None)
        await sub.stop()
        dlq = [r async for r in follow(kafka, topics.dlq, from_beginning=True, idle_timeout_s=3)]
        print(f"sent {len(shots)} attack messages in {sent_s:.1f}s")
        return dlq

    try:
        dlq = asyncio.run(run())
        assert worker.poll() is None, f"worker died: {log.read_text()[-3000:]}"
        peak = _peak_rss_mb(worker.pid)
    finally:
        _stop(worker)
    by_origin = {(d["topic"], d["partition"], d["offset"]): d for d in dlq}
    missing, unexplained = [], []
    for s in shots:
        d = by_origin.get((s.topic, s.partition, s.offset))
        if d is not None:
            assert d["reason"], f"{s.name}: dead letter without a reason"
            assert d["value_size"] == len(s.value or b""), s.name
        elif s.must_dlq:
            missing.append(s.name)
        elif not _acceptable(s, topics):
            unexplained.append(s.name)
    assert not missing, f"not in the DLQ: {missing}"
    assert not unexplained, f"neither accepted by contract nor dead-lettered: {unexplained}"
    accepted = sum(1 for s in shots if (s.topic, s.partition, s.offset) not in by_origin)
    big = next(s for s in shots if s.name.startswith("in-limit"))
    assert (big.topic, big.partition, big.offset) not in by_origin, "an in-limit inline image is accepted"
    reasons = {s.name: by_origin[(s.topic, s.partition, s.offset)]["reason"] for s in shots if s.must_dlq}
    assert reasons["file uri"] == reasons["loopback service"] == reasons["proc path"], "URI reasons do not probe"
    stored = _stored_windows(store)
    live0 = [w for w in stored if w[0] == "live-0"]
    assert sorted(live0) == sorted(expected), "the valid stream is indexed exactly once"
    assert any(w[0] == "fz-big" for w in stored), "the stream with the in-limit image is indexed"
    assert peak < RSS_LIMIT_MB, f"worker peak RSS {peak:.0f} MB"
    print(f"fuzz: sent={len(shots)} dlq={len(by_origin)} accepted={accepted} crashes=0 peak_rss={peak:.0f}MB")
    store.drop()
    store.close()
