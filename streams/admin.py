"""Kafka administration the worker needs: create topics if missing."""

from __future__ import annotations

from collections.abc import Iterable

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError


def ensure_topics(bootstrap: str, names: Iterable[str], partitions: int, replication: int = 1) -> list[str]:
    """Create the topics that do not exist yet; return the names created."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="ampere-admin")
    try:
        existing = set(admin.list_topics())
        missing = [n for n in dict.fromkeys(names) if n not in existing]
        if missing:
            try:
                admin.create_topics([NewTopic(n, partitions, replication) for n in missing])
            except TopicAlreadyExistsError:
                pass
        return missing
    finally:
        admin.close()


async def group_lag(bootstrap: str, group: str, topics: Iterable[str]) -> int:
    """Messages of ``topics`` not yet committed by consumer group ``group`` (uncommitted = all).

    Raises LookupError while a topic's partitions are not known yet, so "unknown" never reads as 0.
    """
    from aiokafka import AIOKafkaConsumer, TopicPartition

    # a consumer that never subscribes only reads the group's committed offsets; it does not join
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        cluster = await consumer._client.fetch_all_metadata()
        tps = []
        for topic in topics:
            parts = cluster.partitions_for_topic(topic)
            if not parts:
                raise LookupError(f"no partitions known for topic {topic}")
            tps += [TopicPartition(topic, p) for p in sorted(parts)]
        ends = await consumer.end_offsets(tps)
        lag = 0
        for tp in tps:
            lag += max(0, ends[tp] - (await consumer.committed(tp) or 0))
        return lag
    finally:
        await consumer.stop()
