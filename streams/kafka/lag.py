"""The one lag reader: how many records of some topics a consumer group has not committed yet."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from streams.kafka.clients import sync_consumer
from streams.kafka.config import KafkaSource

Lag = dict[tuple[str, int], int]


def group_lag(source: KafkaSource, group: str, topics: Iterable[str], timeout_s: float = 5.0) -> Lag:
    """Uncommitted records per (topic, partition) of ``group`` (nothing committed = all).

    A consumer that carries the group id but never subscribes reads the committed offsets without
    joining the group. Raises LookupError while a topic's partitions are unknown, so "unknown" never
    reads as 0. Public kafka-python APIs only.
    """
    from kafka import TopicPartition

    consumer = sync_consumer(source, timeout_ms=int(timeout_s * 1000), group_id=group)
    try:
        tps = []
        for topic in topics:
            parts = consumer.partitions_for_topic(topic)
            if not parts:
                raise LookupError(f"no partitions known for topic {topic}")
            tps += [TopicPartition(topic, p) for p in sorted(parts)]
        ends = consumer.end_offsets(tps)
        return {(tp.topic, tp.partition): max(0, ends[tp] - (consumer.committed(tp) or 0)) for tp in tps}
    finally:
        consumer.close()


async def group_lag_async(source: KafkaSource, group: str, topics: Iterable[str], timeout_s: float = 5.0) -> int:
    """Total uncommitted records of ``group`` over ``topics`` (off the event loop)."""
    lag = await asyncio.to_thread(group_lag, source, group, list(topics), timeout_s)
    return sum(lag.values())
