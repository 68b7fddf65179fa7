"""Kafka administration the worker needs: create topics if missing, with the project's configs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from streams.kafka import admin_client
from streams.kafka.config import BATCH_OVERHEAD_BYTES
from streams.settings import Settings


def topic_configs(settings: Settings) -> dict[str, str]:
    """Topic-level configs of every topic Ampere creates (message size, durability)."""
    return {
        "max.message.bytes": str(settings.max_message_bytes + BATCH_OVERHEAD_BYTES),
        "min.insync.replicas": str(settings.topic_min_insync_replicas),
    }


def ensure_topics(
    settings: Settings,
    names: Iterable[str],
    partitions: int,
    replication: int | None = None,
    extra_configs: Mapping[str, str] | None = None,
) -> list[str]:
    """Create the topics that do not exist yet (with the project's size and durability configs, plus
    ``extra_configs``) on the brokers of ``settings``; return the names created."""
    replication = replication or settings.topic_replication_factor
    admin = admin_client(settings)
    try:
        existing = set(admin.list_topics())
        missing = [n for n in dict.fromkeys(names) if n not in existing]
        if missing:
            try:
                configs = {**topic_configs(settings), **(extra_configs or {})}
                admin.create_topics([NewTopic(n, partitions, replication, topic_configs=configs) for n in missing])
            except TopicAlreadyExistsError:
                pass
        return missing
    finally:
        admin.close()


def partition_counts(settings: Settings, names: Iterable[str]) -> dict[str, int]:
    """Partitions of each existing topic among ``names``."""
    admin = admin_client(settings)
    try:
        described = admin.describe_topics(list(names))
        return {str(t.get("name") or t.get("topic")): len(t["partitions"]) for t in described if t.get("partitions")}
    finally:
        admin.close()
