"""The gateway while the broker is away: a bounded 503 with Retry-After, never a hanging request."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from streams.gateway.publisher import KafkaPublisher
from streams.gateway.server import body_limit, create_gateway
from streams.kafka.admin import ensure_topics
from streams.kafka.topics import TopicNames
from tests.conftest import READY_TIMEOUT_S

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

TIMEOUT_S = 2.0


def _post(client: TestClient, ts_ms: int):
    t0 = time.monotonic()
    r = client.post("/v1/streams/outage-1/events", json={"ts_ms": ts_ms, "type": "start"})
    return r, time.monotonic() - t0


def test_broker_down_is_a_bounded_503_and_the_gateway_recovers(private_kafka, isolated_settings) -> None:
    broker = private_kafka  # a broker of this module alone: the test stops it
    s = isolated_settings(kafka=broker, weaviate=False, topic_partitions=1)
    ensure_topics(s, TopicNames(s.topic_prefix).all(), 1)
    app = create_gateway(s, KafkaPublisher(s, max_request_bytes=body_limit(s) + 4096, timeout_s=TIMEOUT_S))
    with TestClient(app) as client:
        t0 = time.monotonic()
        while (ok := _post(client, 1_000)[0]).status_code != 202:  # a new topic elects its leader first
            assert time.monotonic() - t0 < 60, ok.text
            time.sleep(1)
        assert client.get("/readyz").json() == {"ready": True, "kafka": "ok"}
        broker.stop()
        t0 = time.monotonic()
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.headers["Retry-After"] and "cannot use Kafka" in ready.json()["kafka"]
        assert time.monotonic() - t0 < 5.0
        answers = [_post(client, 2_000 + i) for i in range(3)]
        for r, took in answers:
            assert r.status_code == 503, r.text
            assert int(r.headers["Retry-After"]) >= 1 and "acknowledge" in r.json()["error"]
            assert took < TIMEOUT_S + 2.0, f"a request waited {took:.1f}s while the broker was down"
        broker.start()
        broker.wait_ready(READY_TIMEOUT_S)
        t0 = time.monotonic()
        while (r := _post(client, 9_000)[0]).status_code != 202:
            assert time.monotonic() - t0 < 60, f"the gateway did not recover: {r.status_code} {r.text}"
            time.sleep(1)
