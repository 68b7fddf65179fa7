"""End to end on real Kafka, real Weaviate and a real worker: streams sent through the HTTP and WebSocket
gateway come back as tags, a generated video file sent with `ampere ingest video` is indexed, and the
local-index example mirrors what the worker published."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from PIL import Image
from websockets.sync.client import connect as ws_connect

from encoders.dataset import Dataset
from engines.store.weaviate_store import WeaviateStore, connect
from streams.kafka.admin import ensure_topics
from streams.kafka.topics import TopicNames
from streams.sdk.publish import Outgoing, product_message, send_all, stream_messages
from streams.settings import Settings
from streams.worker.ingest import apply_message, window_config
from streams.worker.windowing import close_all
from tests.conftest import settings_factory
from tests.streams.gateway.video_maker import make_video
from tests.streams.mini_dataset import make_mini_dataset
from tooling.consume import spawn_worker
from tooling.demo import Subscriber, settings_env
from tooling.infra import free_ports

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[3]
API_KEY = "broadcaster-key"
EPOCH_MS = 1_764_500_000_000  # live streams speak epoch milliseconds
KIND = {"asr.chunks": "asr", "keyframes": "keyframe", "stream.events": "event"}


@dataclass
class Pipeline:
    settings: Settings
    topics: TopicNames
    ds: Dataset
    store: WeaviateStore
    worker: subprocess.Popen
    gateway_url: str
    log: Path

    def env(self) -> dict[str, str]:
        return {**settings_env(self.settings), "PYTHONPATH": str(ROOT)}

    def alive(self) -> bool:
        return self.worker.poll() is None


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@pytest.fixture(scope="module")
def pipeline(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gateway")
    settings = settings_factory(request, tmp_path_factory)(
        window_ms=10_000, hop_ms=10_000, grace_ms=1_000, idle_close_ms=4_000, topic_partitions=2,
        ingest_api_key=API_KEY,
    )
    topics = TopicNames(settings.topic_prefix)
    ds = make_mini_dataset(tmp / "data")
    ensure_topics(settings, topics.all(), settings.topic_partitions)
    store = WeaviateStore(connect(settings.weaviate_url, settings.weaviate_grpc_port), settings.collection_prefix)
    store.ensure_collections()
    log = tmp / "worker.log"
    worker = spawn_worker(settings_env(settings), log)
    port = free_ports(1)[0]
    with (tmp / "gateway.log").open("ab") as fh:
        gateway = subprocess.Popen(
            [sys.executable, "-m", "streams", "ingest", "serve", "--port", str(port)],
            env={**settings_env(settings), "AMPERE_INGEST_API_KEY": API_KEY}, stdout=fh, stderr=subprocess.STDOUT, cwd=ROOT,
        )
    p = Pipeline(settings, topics, ds, store, worker, f"http://127.0.0.1:{port}", log)
    try:
        asyncio.run(send_all(settings.kafka, [product_message(ds, prod, topics) for prod in ds.products]))
        t0 = time.time()
        while store.count("product") < len(ds.products) or not _healthy(p.gateway_url):
            assert p.alive(), log.read_text()[-3000:]
            assert gateway.poll() is None, (tmp / "gateway.log").read_text()[-3000:]
            assert time.time() - t0 < 600, "catalog not indexed or gateway not up in time"
            time.sleep(1)
        yield p
    finally:
        _stop(gateway)
        _stop(worker)
        store.drop()
        store.close()


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _shifted(messages: list[Outgoing], topics: TopicNames) -> list[tuple[str, str, dict]]:
    """(topic, kind, payload) of each message, on an epoch-millisecond clock."""
    out = []
    for m in messages:
        rec = json.loads(m.value)
        for f in ("ts_ms", "start_ms", "end_ms"):
            if f in rec:
                rec[f] += EPOCH_MS
        out.append((m.topic, KIND[m.topic.removeprefix(topics.prefix + ".")], rec))
    return out


def _expected(msgs: list[tuple[str, str, dict]], settings: Settings, topics: TopicNames) -> set[tuple[str, int, int]]:
    """Windows the worker must close, computed offline with the same pure functions."""
    cfg, st, out = window_config(settings), None, set()
    for topic, _, rec in msgs:
        st, applied, _ = apply_message(topic, json.dumps(rec).encode(), st, 0.0, settings, cfg, topics)
        out |= {(c.stream_id, c.start_ms, c.end_ms) for c in applied.closed}
    return out | {(c.stream_id, c.start_ms, c.end_ms) for c in close_all(st, "stream_end", cfg)}


def _send_http(client: httpx.Client, url: str, sid: str, msgs: list[tuple[str, str, dict]]) -> None:
    for _, kind, rec in msgs:
        if kind == "keyframe":  # keyframes as multipart uploads, the way a camera client sends files
            r = client.post(f"{url}/v1/streams/{sid}/keyframes", data={"ts_ms": str(rec["ts_ms"])},
                            files={"image": ("frame.jpg", base64.b64decode(rec["image_b64"]), "image/jpeg")})
        else:
            r = client.post(f"{url}/v1/streams/{sid}/{'events' if kind == 'event' else 'asr'}", json=rec)
        assert r.status_code == 202, r.text
        assert set(r.json()) == {"topic", "partition", "offset"}


def _send_ws(url: str, sid: str, msgs: list[tuple[str, str, dict]]) -> None:
    ws_url = url.replace("http://", "ws://") + f"/v1/streams/{sid}/ws"
    with ws_connect(ws_url, additional_headers={"X-API-Key": API_KEY}, max_size=None) as ws:
        for i, (_, kind, rec) in enumerate(msgs):
            ws.send(json.dumps({"kind": kind, "ref": i, **rec}))
            ack = json.loads(ws.recv(timeout=30))
            assert ack["ok"] is True and ack["ref"] == i, ack


def test_streams_sent_over_http_and_websocket_come_back_as_tags(pipeline: Pipeline, tmp_path: Path) -> None:
    p, topics = pipeline, pipeline.topics
    streams = p.ds.streams()
    http_sid, ws_sid = f"http-{uuid.uuid4().hex[:6]}", f"ws-{uuid.uuid4().hex[:6]}"
    http_msgs = _shifted(stream_messages(p.ds, "live-0", streams["live-0"], topics, rename=http_sid), topics)
    ws_msgs = _shifted(stream_messages(p.ds, "live-1", streams["live-1"], topics, rename=ws_sid), topics)
    expected = _expected(http_msgs, p.settings, topics) | _expected(ws_msgs, p.settings, topics)
    assert expected and all(start >= EPOCH_MS for _, start, _ in expected)

    async def run() -> Subscriber:
        sub = Subscriber(p.settings, topics)
        await sub.start()
        with httpx.Client(headers={"X-API-Key": API_KEY}, timeout=30) as client:
            unauthorized = await asyncio.to_thread(
                httpx.post, f"{p.gateway_url}/v1/streams/{http_sid}/events", json={"ts_ms": 1, "type": "start"}
            )
            assert unauthorized.status_code == 401
            await asyncio.gather(
                asyncio.to_thread(_send_http, client, p.gateway_url, http_sid, http_msgs),
                asyncio.to_thread(_send_ws, p.gateway_url, ws_sid, ws_msgs),
            )
        await sub.wait_done(settle_s=8, timeout_s=600, alive=p.alive)
        await sub.stop()
        return sub

    rep = asyncio.run(run()).report
    assert p.alive(), p.log.read_text()[-3000:]
    tagged = {(t["stream_id"], *t["window"]) for t in rep.tags if t["stream_id"] in (http_sid, ws_sid)}
    assert tagged == expected
    catalog = {prod.product_id for prod in p.ds.products}
    assert all(t["products"] and t["products"][0]["product_id"] in catalog for t in rep.tags)
    assert rep.dlq == []

    # the local-index example, fed by the worker's own output, holds exactly what Weaviate holds
    db = tmp_path / "copy.sqlite"
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "local_index.py"), "--db", str(db), "--group", "mirror",
         "--topic", topics.embeddings, "--idle-exit", "3"],
        check=False, env=p.env(), capture_output=True, text=True, timeout=120, cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    rows = sqlite3.connect(db).execute("SELECT kind, stream_id, start_ms, end_ms FROM objects").fetchall()
    live = {(s, a, b) for k, s, a, b in rows if k == "live" and s in (http_sid, ws_sid)}
    assert live == expected
    assert sum(1 for r in rows if r[0] == "product") == p.store.count("product")


def test_a_generated_video_file_is_indexed_end_to_end(pipeline: Pipeline, tmp_path: Path) -> None:
    p, topics = pipeline, pipeline.topics
    blue, red = (30, 60, 200), (200, 30, 30)
    video = make_video(tmp_path / "clip.mp4", [(2.0, blue, "rectangle"), (2.0, red, "ellipse")])
    srt = tmp_path / "clip.srt"
    srt.write_text("1\n00:00:00,200 --> 00:00:01,800\nlook at this blue canvas running shoe\n\n"
                   "2\n00:00:02,100 --> 00:00:03,900\nand a red ceramic coffee mug\n", encoding="utf-8")
    sid = f"clip-{uuid.uuid4().hex[:6]}"

    async def run() -> Subscriber:
        sub = Subscriber(p.settings, topics)
        await sub.start()
        out = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "streams", "ingest", "video", str(video), "--transcript", str(srt), "--stream-id", sid],
            check=False, env=p.env(), capture_output=True, text=True, timeout=120, cwd=ROOT,
        )
        assert out.returncode == 0, out.stderr[-3000:]
        assert "2 keyframes, 2 transcript chunks" in out.stderr
        await sub.wait_done(settle_s=8, timeout_s=600, alive=p.alive)
        await sub.stop()
        return sub

    rep = asyncio.run(run()).report
    mine = [e for e in rep.embeddings if e["stream_id"] == sid]
    assert [(e["kind"], e["window"]) for e in mine] == [("video", [0, 10_000])]
    sentence = mine[0]["summary"]["sentence"].lower()
    assert any(w in sentence for w in ("shoe", "canvas", "mug", "ceramic")), sentence  # the transcript was read
    coll = p.store.client.collections.get(p.store.name("video"))
    stored = [o.properties for o in coll.iterator() if o.properties["stream_id"] == sid]
    assert len(stored) == 1 and (stored[0]["start_ms"], stored[0]["end_ms"]) == (0, 10_000)
    assert not any(t["stream_id"] == sid for t in rep.tags)  # videos are indexed, not tagged


def test_the_ingest_docs_curl_examples_are_accepted(pipeline: Pipeline, tmp_path: Path) -> None:
    """docs/INGEST.md's curl calls, run as written against the running gateway (its port, key, a new id)."""
    doc = (ROOT / "docs" / "INGEST.md").read_text(encoding="utf-8")
    [block] = [b for b in re.findall(r"```bash\n(.*?)```", doc, flags=re.DOTALL) if "curl" in b]
    sid = f"doc-{uuid.uuid4().hex[:6]}"
    script = (block.replace("http://127.0.0.1:18400", pipeline.gateway_url)
              .replace("change-me", API_KEY).replace("shop-42", sid))
    Image.new("RGB", (64, 64), (200, 30, 30)).save(tmp_path / "frame.jpg")
    out = subprocess.run(["bash", "-c", "set -euo pipefail\n" + script], check=False, capture_output=True,
                         text=True, timeout=60, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    answers, dec, pos = [], json.JSONDecoder(), 0
    while pos < len(out.stdout):
        obj, pos = dec.raw_decode(out.stdout, pos)
        answers.append(obj)
    topics = pipeline.topics
    assert [a.get("topic") for a in answers] == [topics.events, topics.asr, topics.keyframes, topics.events], answers
