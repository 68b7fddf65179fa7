"""Topic lifecycle on a real broker: what ``ensure_topics`` creates keeps its records as the rule says,
and an existing topic that keeps other configs is named, not silently changed."""

from __future__ import annotations

import logging

import pytest
from kafka.admin import AlterConfigOp, ConfigResource, ConfigResourceType

from streams.kafka import admin_client
from streams.kafka.admin import ensure_topics, lifecycle_configs, lifecycle_drift
from streams.kafka.topics import TopicNames
from streams.settings import Settings

pytestmark = pytest.mark.integration


def test_created_topics_keep_their_records_as_the_rule_says(isolated_settings) -> None:
    s: Settings = isolated_settings(weaviate=False, retention_images_ms=600_000, retention_ms=7_200_000)
    topics = TopicNames(s.topic_prefix)
    assert set(ensure_topics(s, topics.all(), 1)) == set(topics.all())
    admin = admin_client(s)
    try:
        described = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, n) for n in topics.all()],
                                           config_filter="all")["topic"]
        assert lifecycle_drift(admin, s, topics.all()) == {}
    finally:
        admin.close()
    value = {name: {k: v["value"] for k, v in configs.items()} for name, configs in described.items()}
    assert value[topics.keyframes]["retention.ms"] == value[topics.summaries]["retention.ms"] == "600000"
    assert value[topics.asr]["retention.ms"] == value[topics.tags]["retention.ms"] == "7200000"
    assert value[topics.dlq]["retention.ms"] == str(s.retention_dlq_ms)
    assert value[topics.products]["cleanup.policy"] == "compact" and value[topics.products]["retention.ms"] == "-1"
    assert value[topics.asr]["cleanup.policy"] == "delete"
    for name in topics.all():
        assert lifecycle_configs(s, name).items() <= value[name].items(), name


def test_an_existing_topic_with_other_retention_is_named_and_left_alone(isolated_settings, caplog) -> None:
    s: Settings = isolated_settings(weaviate=False)
    topics = TopicNames(s.topic_prefix)
    ensure_topics(s, [topics.keyframes, topics.products], 1)
    admin = admin_client(s)
    try:
        admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topics.keyframes,
                                            {"retention.ms": (AlterConfigOp.SET, "604800000")})])
    finally:
        admin.close()
    with caplog.at_level(logging.WARNING, logger="streams.kafka.admin"):
        assert ensure_topics(s, iter([topics.keyframes, topics.products]), 1) == []  # any iterable, read once
    warned = [r.getMessage() for r in caplog.records if topics.keyframes in r.getMessage()]
    assert len(warned) == 1 and "retention.ms=604800000" in warned[0] and str(s.retention_images_ms) in warned[0]
    assert not any(topics.products in r.getMessage() for r in caplog.records)
    admin = admin_client(s)
    try:  # left as it was: an operator's choice is not overwritten
        assert lifecycle_drift(admin, s, [topics.keyframes]) == {
            topics.keyframes: {"retention.ms": ("604800000", str(s.retention_images_ms))}}
    finally:
        admin.close()
