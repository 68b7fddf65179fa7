"""Kafka administration the worker needs: create topics if missing."""

from __future__ import annotations

from collections.abc import Iterable

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

from streams.kafka_conn import (
    BATCH_OVERHEAD_BYTES,
    KafkaTarget,
    aiokafka_options,
    kafka_python_options,
)
from streams.settings import Settings


def topic_configs(settings: Settings) -> dict[str, str]:
    """Topic-level configs of every topic Ampere creates (message size, durability)."""
    return {
        "max.message.bytes": str(settings.max_message_bytes + BATCH_OVERHEAD_BYTES),
        "min.insync.replicas": str(settings.topic_min_insync_replicas),
    }


def ensure_topics(
    target: KafkaTarget, names: Iterable[str], partitions: int, replication: int | None = None
) -> list[str]:
    """Create the topics that do not exist yet (with the project's size and durability configs);
    return the names created. ``target`` is a bootstrap string (local defaults) or the settings."""
    settings = target if isinstance(target, Settings) else Settings(kafka_bootstrap=target)
    replication = replication or settings.topic_replication_factor
    admin = KafkaAdminClient(**kafka_python_options(target), client_id="ampere-admin")
    try:
        existing = set(admin.list_topics())
        missing = [n for n in dict.fromkeys(names) if n not in existing]
        if missing:
            try:
                configs = topic_configs(settings)
                admin.create_topics([NewTopic(n, partitions, replication, topic_configs=configs) for n in missing])
            except TopicAlreadyExistsError:
                pass
        return missing
    finally:
        admin.close()


async def group_lag(bootstrap: KafkaTarget, group: str, topics: Iterable[str]) -> int:
    """Messages of ``topics`` not yet committed by consumer group ``group`` (uncommitted = all).

    Raises LookupError while a topic's partitions are not known yet, so "unknown" never reads as 0.
    """
    from aiokafka import AIOKafkaConsumer, TopicPartition

    # a consumer that never subscribes only reads the group's committed offsets; it does not join
    consumer = AIOKafkaConsumer(**aiokafka_options(bootstrap), group_id=group, enable_auto_commit=False)
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
