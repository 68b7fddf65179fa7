"""A broker that only speaks SASL_SSL (SCRAM-SHA-512 over TLS with a throwaway CA): every client of the
project works with the right CA and credentials, and a wrong CA, password or protocol is one clear
line and exit status 2 (503 from the gateway), never a hang or a PLAINTEXT fallback."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from streams.errors import KafkaUnavailable
from streams.kafka import KafkaConfig, check_reachable
from streams.kafka.admin import ensure_topics
from streams.kafka.topics import TopicNames
from streams.sdk.publish import product_message, send_all, stream_messages
from streams.settings import Settings
from tests.conftest import _start_ready
from tests.streams.gateway.test_gateway_integration import _expected, _send_http, _shifted
from tests.streams.mini_dataset import make_mini_dataset
from tooling.consume import follow, spawn_worker
from tooling.demo import Subscriber, settings_env
from tooling.infra import KafkaService, free_ports
from tooling.infra.tls import TlsFiles, make_ca_and_server

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

USER, PASSWORD = "ampere-worker", "s3cret-" + uuid.uuid4().hex[:8]
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_ca_and_server(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def sasl_broker(tmp_path_factory: pytest.TempPathFactory, tls: TlsFiles) -> Iterator[KafkaService]:
    broker_port, controller_port, sasl_port = free_ports(3)
    service = KafkaService(
        Settings().home, broker_port, controller_port, tmp_path_factory.mktemp("kafka-sasl"),
        sasl_port=sasl_port, scram_users={USER: PASSWORD}, tls_keystore=tls.server_keystore,
    )
    _start_ready(service)
    try:
        yield service
    finally:
        service.stop()


def _sasl_settings(service: KafkaService, weaviate_server, tls: TlsFiles, **over) -> Settings:
    ep = weaviate_server.endpoint
    tag = uuid.uuid4().hex[:8]
    fields = {
        "kafka_bootstrap": f"127.0.0.1:{service.sasl_port}", "kafka_security_protocol": "SASL_SSL",
        "kafka_sasl_mechanism": "SCRAM-SHA-512", "kafka_sasl_username": USER, "kafka_sasl_password": PASSWORD,
        "kafka_ssl_cafile": tls.ca_cert, "weaviate_url": ep.http_url, "weaviate_grpc_port": ep.grpc_port,
        "topic_prefix": f"s{tag}", "collection_prefix": f"S{tag}", "summarizer": "extractive", "topic_partitions": 1,
        "window_ms": 10_000, "hop_ms": 10_000, "grace_ms": 1_000, "idle_close_ms": 4_000,
    }
    return Settings(**{**fields, **over})


def test_clients_need_the_right_ca_credentials_and_protocol(sasl_broker, weaviate_server, tls, tmp_path) -> None:
    good = _sasl_settings(sasl_broker, weaviate_server, tls)
    check_reachable(good)
    other_ca = make_ca_and_server(tmp_path / "other", common_name="not-the-broker-ca")
    bad = {
        "wrong password": good.model_copy(update={"kafka_sasl_password": SecretStr("wrong")}),
        "wrong CA": good.model_copy(update={"kafka_ssl_cafile": other_ca.ca_cert}),
        "no TLS": good.model_copy(update={"kafka_security_protocol": "SASL_PLAINTEXT"}),
    }
    for name, s in bad.items():
        t0 = time.time()
        with pytest.raises(KafkaUnavailable) as err:
            check_reachable(s, timeout_s=10)
        assert "cannot use Kafka" in str(err.value) and "\n" not in str(err.value), name
        assert time.time() - t0 < 30, f"{name}: took {time.time() - t0:.0f}s"
    with pytest.raises(KafkaUnavailable, match="PLAINTEXT"):
        check_reachable(KafkaConfig(f"127.0.0.1:{sasl_broker.sasl_port}"), timeout_s=10)


@pytest.mark.parametrize("command", [["tail", "dlq", "--idle-exit", "1"], ["ingest", "video", "{video}"],
                                     ["publish", "--catalog"], ["ingest", "serve"]])
def test_every_command_refuses_a_wrong_ca_in_one_line(sasl_broker, weaviate_server, tls, tmp_path, command) -> None:
    other_ca = make_ca_and_server(tmp_path / "other", common_name="not-the-broker-ca")
    env = settings_env(_sasl_settings(sasl_broker, weaviate_server, tls, kafka_ssl_cafile=other_ca.ca_cert))
    command = [str(_video(tmp_path)) if arg == "{video}" else arg for arg in command]
    res = subprocess.run([sys.executable, "-m", "streams", *command], env=env, capture_output=True, text=True,
                         timeout=120, check=False, cwd=ROOT)
    assert res.returncode == 2, res.stdout[-2000:] + res.stderr[-2000:]
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) <= 3 and any("cannot use Kafka" in ln for ln in lines), res.stderr[-2000:]
    assert "Traceback" not in res.stderr


def test_worker_gateway_video_and_sdk_over_sasl_ssl(sasl_broker, weaviate_server, tls, tmp_path: Path) -> None:
    """A stream sent over HTTP to the gateway comes back as tags, read with the SDK; a video file is
    ingested; all of it over SASL_SSL only."""
    settings = _sasl_settings(sasl_broker, weaviate_server, tls)
    topics = TopicNames(settings.topic_prefix)
    ensure_topics(settings, topics.all(), settings.topic_partitions)
    ds = make_mini_dataset(tmp_path / "data")
    env = settings_env(settings)
    worker = spawn_worker(env, tmp_path / "worker.log")
    port = free_ports(1)[0]
    with (tmp_path / "gateway.log").open("ab") as fh:
        gateway = subprocess.Popen([sys.executable, "-m", "streams", "ingest", "serve", "--port", str(port)],
                                   env=env, stdout=fh, stderr=subprocess.STDOUT, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    sid = f"tls-{uuid.uuid4().hex[:6]}"
    msgs = _shifted(stream_messages(ds, "live-0", ds.streams()["live-0"], topics, rename=sid), topics)
    expected = _expected(msgs, settings, topics)

    def alive() -> bool:
        return worker.poll() is None and gateway.poll() is None

    async def run() -> Subscriber:
        sub = Subscriber(settings, topics)
        await sub.start()
        await send_all(settings, [product_message(ds, p, topics) for p in ds.products])
        t0 = time.time()
        while await asyncio.to_thread(_ready, url) != 200:
            assert alive() and time.time() - t0 < 120, (tmp_path / "gateway.log").read_text()[-3000:]
            await asyncio.sleep(1)
        with httpx.Client(timeout=30) as client:
            await asyncio.to_thread(_send_http, client, url, sid, msgs)
        await sub.wait_done(settle_s=8, timeout_s=600, alive=alive)
        await sub.stop()
        return sub

    try:
        rep = asyncio.run(run()).report
        video = subprocess.run([sys.executable, "-m", "streams", "ingest", "video", str(_video(tmp_path)),
                                "--stream-id", "tls-video"], env=env, capture_output=True, text=True, timeout=300,
                               check=False, cwd=ROOT)
        assert video.returncode == 0, video.stderr[-3000:]

        async def video_events() -> list[dict]:
            return [r async for r in follow(settings, topics.keyframes, from_beginning=True, idle_timeout_s=2)
                    if r.get("stream_id") == "tls-video"]

        frames = asyncio.run(video_events())
    finally:
        for proc in (gateway, worker):
            proc.terminate()
            proc.wait(30)
    tagged = {(t["stream_id"], *t["window"]) for t in rep.tags if t["stream_id"] == sid}
    assert tagged == expected and rep.dlq == []
    assert frames, "the video's keyframes were published over SASL_SSL"


def _ready(url: str) -> int:
    try:
        return httpx.get(f"{url}/readyz", timeout=5).status_code
    except httpx.HTTPError:
        return 0


def _video(folder: Path) -> Path:
    from tests.streams.gateway.video_maker import make_video

    return make_video(folder / "clip.mp4", [(1.5, (20, 60, 200), "rectangle"), (1.5, (200, 30, 30), "ellipse")])
