"""A real Kafka broker: topics created with kafka-python's admin, 10,000 keyed messages through aiokafka."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import defaultdict

import pytest
from aiokafka import AIOKafkaConsumer
from kafka.admin import NewTopic

from streams.kafka import KafkaConfig, admin_client, async_producer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

MESSAGES = 10_000
KEYS = 50  # 200 messages per key
PARTITIONS = 4


def _create_topic(bootstrap: str, name: str, partitions: int) -> None:
    admin = admin_client(KafkaConfig(bootstrap), client_id="ampere-tests")
    try:
        admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
        admin.wait_for_topics([name])
    finally:
        admin.close()


def test_admin_creates_topics_with_partitions(kafka_bootstrap: str) -> None:
    names = [f"ampere.test.admin.{uuid.uuid4().hex[:8]}.{i}" for i in range(3)]
    admin = admin_client(KafkaConfig(kafka_bootstrap), client_id="ampere-tests")
    try:
        admin.create_topics([NewTopic(name, num_partitions=PARTITIONS, replication_factor=1) for name in names])
        assert set(names) <= set(admin.list_topics())
        described = {topic.get("name") or topic.get("topic"): topic for topic in admin.describe_topics(names)}
        assert {name: len(described[name]["partitions"]) for name in names} == dict.fromkeys(names, PARTITIONS)
    finally:
        admin.close()


async def _produce(bootstrap: str, topic: str) -> None:
    producer = async_producer(KafkaConfig(bootstrap), acks="all", enable_idempotence=True, linger_ms=5)
    await producer.start()
    try:
        sends = [
            await producer.send(
                topic,
                key=f"stream-{seq % KEYS}".encode(),
                value=json.dumps({"key": f"stream-{seq % KEYS}", "seq": seq // KEYS}).encode(),
            )
            for seq in range(MESSAGES)
        ]
        await asyncio.gather(*sends)
    finally:
        await producer.stop()


async def _consume(bootstrap: str, topic: str, timeout_s: float = 120.0) -> list[tuple[str, int, int]]:
    """(key, seq, partition) of every message, in the order the consumer saw them."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=f"ampere-tests-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest", enable_auto_commit=False,
    )
    await consumer.start()
    seen: list[tuple[str, int, int]] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(seen) < MESSAGES and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=1000, max_records=2000)
            for partition, records in batches.items():
                for record in records:
                    payload = json.loads(record.value)
                    assert record.key.decode() == payload["key"]
                    seen.append((payload["key"], payload["seq"], partition.partition))
        # nothing beyond the expected messages may arrive
        extra = await consumer.getmany(timeout_ms=500)
        seen.extend(("extra", -1, tp.partition) for tp, records in extra.items() for _ in records)
    finally:
        await consumer.stop()
    return seen


async def test_keyed_messages_round_trip_in_order_per_key(kafka_bootstrap: str) -> None:
    topic = f"ampere.test.roundtrip.{uuid.uuid4().hex[:8]}"
    _create_topic(kafka_bootstrap, topic, PARTITIONS)
    started = time.monotonic()
    await _produce(kafka_bootstrap, topic)
    seen = await _consume(kafka_bootstrap, topic)
    elapsed = time.monotonic() - started
    print(f"round trip of {MESSAGES} keyed messages: {elapsed:.2f}s")

    assert len(seen) == MESSAGES
    by_key: dict[str, list[int]] = defaultdict(list)
    partitions_of_key: dict[str, set[int]] = defaultdict(set)
    for key, seq, partition in seen:
        by_key[key].append(seq)
        partitions_of_key[key].add(partition)
    assert len(by_key) == KEYS
    for key, seqs in by_key.items():
        assert seqs == list(range(MESSAGES // KEYS)), f"{key} out of order or incomplete"
        assert len(partitions_of_key[key]) == 1, f"{key} spread over partitions"
    assert len({p for parts in partitions_of_key.values() for p in parts}) > 1
