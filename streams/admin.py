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
