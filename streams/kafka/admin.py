"""Kafka administration the worker needs: create topics if missing, with the project's configs."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from kafka.admin import ConfigResource, ConfigResourceType, NewTopic
from kafka.errors import TopicAlreadyExistsError

from streams.kafka import admin_client
from streams.kafka.config import BATCH_OVERHEAD_BYTES
from streams.kafka.topics import TopicNames
from streams.settings import Settings

log = logging.getLogger(__name__)


def topic_configs(settings: Settings) -> dict[str, str]:
    """Topic-level configs of every topic Ampere creates (message size, durability)."""
    return {
        "max.message.bytes": str(settings.max_message_bytes + BATCH_OVERHEAD_BYTES),
        "min.insync.replicas": str(settings.topic_min_insync_replicas),
    }


def lifecycle_configs(settings: Settings, name: str) -> dict[str, str]:
    """How long topic ``name`` keeps its records: the catalog is compacted and kept (the dashboard and a
    rebuilt store read it from the start), the topics that carry images briefly, the dead letters longest; topics that are
    not Ampere's own keep the broker's defaults."""
    t = TopicNames(settings.topic_prefix)
    if name == t.products:
        return {"cleanup.policy": "compact", "retention.ms": "-1"}
    ms = {t.keyframes: settings.retention_images_ms, t.windows: settings.retention_images_ms,
          t.summaries: settings.retention_images_ms, t.dlq: settings.retention_dlq_ms}.get(name)
    if ms is None and name in t.all():
        ms = settings.retention_ms
    return {} if ms is None else {"retention.ms": str(ms)}


def ensure_topics(
    settings: Settings,
    names: Iterable[str],
    partitions: int,
    replication: int | None = None,
    extra_configs: Mapping[str, str] | None = None,
) -> list[str]:
    """Create the topics that do not exist yet (with the project's size, durability and retention
    configs, plus ``extra_configs``) on the brokers of ``settings``; return the names created. Existing
    topics keep their configs; where their lifecycle differs from the rule, a warning says so."""
    replication = replication or settings.topic_replication_factor
    names = list(dict.fromkeys(names))  # read twice below: an iterator would be spent by the first
    admin = admin_client(settings)
    try:
        existing = set(admin.list_topics())
        missing = [n for n in names if n not in existing]
        if missing:
            try:
                admin.create_topics([
                    NewTopic(n, partitions, replication, topic_configs={
                        **topic_configs(settings), **lifecycle_configs(settings, n), **(extra_configs or {})})
                    for n in missing
                ])
            except TopicAlreadyExistsError:
                pass
        for name, differences in lifecycle_drift(admin, settings, [n for n in names if n in existing]).items():
            shown = ", ".join(f"{key}={have} (the rule says {want})" for key, (have, want) in differences.items())
            log.warning("topic %s keeps %s: it was created with other configs; see docs/DEPLOY.md \"Kafka storage\"",
                        name, shown)
        return missing
    finally:
        admin.close()


def lifecycle_drift(admin: Any, settings: Settings, names: Iterable[str]) -> dict[str, dict[str, tuple[str, str]]]:
    """Where existing topics ``names`` keep other lifecycle configs than :func:`lifecycle_configs`:
    ``{topic: {config: (have, want)}}``."""
    wanted = {n: w for n in dict.fromkeys(names) if (w := lifecycle_configs(settings, n))}
    if not wanted:
        return {}
    described = admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, n, list(w)) for n, w in wanted.items()], config_filter="all"
    ).get("topic", {})
    drift: dict[str, dict[str, tuple[str, str]]] = {}
    for name, want in wanted.items():
        have = {key: str((described.get(name, {}).get(key) or {}).get("value")) for key in want}
        if differences := {key: (have[key], value) for key, value in want.items() if have[key] != value}:
            drift[name] = differences
    return drift


def partition_counts(settings: Settings, names: Iterable[str]) -> dict[str, int]:
    """Partitions of each existing topic among ``names``."""
    admin = admin_client(settings)
    try:
        described = admin.describe_topics(list(names))
        return {str(t.get("name") or t.get("topic")): len(t["partitions"]) for t in described if t.get("partitions")}
    finally:
        admin.close()
