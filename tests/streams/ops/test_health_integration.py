"""The Kafka probe of the health server against a real broker: reachability and lag per partition."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from aiokafka import TopicPartition

from streams.kafka import KafkaConfig, async_consumer, async_producer
from streams.kafka.admin import ensure_topics
from streams.ops.health import KafkaProbe
from streams.settings import Settings

pytestmark = pytest.mark.integration


def test_lag_is_end_minus_committed_per_partition(kafka_bootstrap) -> None:
    topic, group = f"h{uuid.uuid4().hex[:8]}.in", f"h{uuid.uuid4().hex[:8]}-worker"
    ensure_topics(Settings(kafka_bootstrap=kafka_bootstrap), [topic], 2)

    async def produce() -> None:
        p = async_producer(KafkaConfig(kafka_bootstrap))
        await p.start()
        try:
            for i in range(5):
                await p.send_and_wait(topic, b"x", partition=i % 2)  # 3 on partition 0, 2 on partition 1
        finally:
            await p.stop()

    async def commit() -> None:
        c = async_consumer(KafkaConfig(kafka_bootstrap), group_id=group, enable_auto_commit=False)
        await c.start()
        try:
            c.assign([TopicPartition(topic, 0)])
            await c.commit({TopicPartition(topic, 0): 1})  # one of partition 0 done, none of partition 1
        finally:
            await c.stop()

    probe = KafkaProbe(KafkaConfig(kafka_bootstrap), group, [topic])
    try:
        assert probe.problem() is None
        assert probe.lag() == {(topic, 0): 0, (topic, 1): 0}
        asyncio.run(produce())
        assert probe.lag() == {(topic, 0): 3, (topic, 1): 2}  # nothing committed yet: all of it
        asyncio.run(commit())
        assert probe.lag() == {(topic, 0): 2, (topic, 1): 2}
    finally:
        probe.close()


def test_unreachable_broker_is_reported_within_the_timeout() -> None:
    probe = KafkaProbe(KafkaConfig("127.0.0.1:9"), "g", ["t"], timeout_s=1.0)
    t0 = time.time()
    problem = probe.problem()
    assert problem is not None and problem.startswith("cannot use Kafka at 127.0.0.1:9") and time.time() - t0 < 10
    with pytest.raises(Exception):  # noqa: B017 - any client error; the scrape clears the gauges
        probe.lag()
