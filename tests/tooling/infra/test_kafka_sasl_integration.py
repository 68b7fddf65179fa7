"""A broker that asks for SCRAM-SHA-512 credentials: the worker works with them and fails clearly without."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.admin import ensure_topics
from streams.errors import KafkaUnavailable
from streams.kafka import KafkaConfig, async_producer, check_reachable
from streams.settings import Settings
from streams.topics import TopicNames
from tests.conftest import _start_ready
from tooling.consume import follow, spawn_worker
from tooling.demo import settings_env
from tooling.infra import KafkaService, free_ports

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

USER, PASSWORD = "ampere-worker", "s3cret-" + uuid.uuid4().hex[:8]


@pytest.fixture(scope="module")
def sasl_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaService]:
    broker_port, controller_port, sasl_port = free_ports(3)
    service = KafkaService(
        Settings().home, broker_port, controller_port, tmp_path_factory.mktemp("kafka-sasl"),
        sasl_port=sasl_port, scram_users={USER: PASSWORD},
    )
    _start_ready(service)
    try:
        yield service
    finally:
        service.stop()


def _sasl_settings(service: KafkaService, weaviate_server, password: str | None = PASSWORD, **over) -> Settings:
    ep = weaviate_server.endpoint
    tag = uuid.uuid4().hex[:8]
    return Settings(
        kafka_bootstrap=f"127.0.0.1:{service.sasl_port}",
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username=USER,
        kafka_sasl_password=password,
        weaviate_url=ep.http_url,
        weaviate_grpc_port=ep.grpc_port,
        topic_prefix=f"s{tag}",
        collection_prefix=f"S{tag}",
        summarizer="extractive",
        topic_partitions=1,
        **over,
    )


def test_clients_need_the_right_credentials(sasl_broker, weaviate_server) -> None:
    good = _sasl_settings(sasl_broker, weaviate_server)
    check_reachable(good)
    with pytest.raises(KafkaUnavailable, match="SASL_PLAINTEXT"):
        check_reachable(_sasl_settings(sasl_broker, weaviate_server, password="wrong"), timeout_s=10)
    with pytest.raises(KafkaUnavailable, match="PLAINTEXT"):
        check_reachable(KafkaConfig(f"127.0.0.1:{sasl_broker.sasl_port}"), timeout_s=10)


def test_worker_runs_with_credentials_and_fails_clearly_without(sasl_broker, weaviate_server, tmp_path: Path) -> None:
    settings = _sasl_settings(sasl_broker, weaviate_server)
    topics = TopicNames(settings.topic_prefix)
    ensure_topics(settings, topics.all(), settings.topic_partitions)
    worker = spawn_worker(settings_env(settings), tmp_path / "worker.log")

    async def run() -> list[dict]:
        producer = async_producer(settings)
        await producer.start()
        try:
            await producer.send_and_wait(topics.asr, b"{not json", key=b"s1")
        finally:
            await producer.stop()
        t0 = time.time()
        while time.time() - t0 < 240:
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
            got = [r async for r in follow(settings, topics.dlq, from_beginning=True, idle_timeout_s=2)]
            if got:
                return got
        raise AssertionError("the worker did not dead-letter the message over SASL")

    try:
        dlq = asyncio.run(run())
    finally:
        worker.terminate()
        worker.wait(30)
    assert "not valid JSON" in dlq[0]["reason"]

    env = settings_env(settings)
    env["AMPERE_KAFKA_SECURITY_PROTOCOL"] = "PLAINTEXT"
    env.pop("AMPERE_KAFKA_SASL_PASSWORD", None)
    t0 = time.time()
    res = subprocess.run(
        [sys.executable, "-m", "streams", "worker"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert res.returncode == 2, res.stdout[-2000:] + res.stderr[-2000:]
    assert "cannot use Kafka" in res.stderr and "PLAINTEXT" in res.stderr
    assert time.time() - t0 < 90
