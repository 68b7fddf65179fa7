"""The shared test harness: isolated settings are unique per call and share only the model cache."""

from __future__ import annotations

import pytest

from streams.kafka.topics import window_group as group_id
from streams.settings import Settings
from tests.conftest import SHARED_HOME_FOLDERS

pytestmark = pytest.mark.integration


def test_isolated_settings_are_unique_and_share_only_the_model_cache(isolated_settings, kafka_bootstrap) -> None:
    a, b = isolated_settings(weaviate=False), isolated_settings(weaviate=False, window_ms=20_000)
    assert a.kafka_bootstrap == b.kafka_bootstrap == kafka_bootstrap  # the session's real broker
    assert a.topic_prefix != b.topic_prefix and a.collection_prefix != b.collection_prefix
    assert group_id(a.topic_prefix) != group_id(b.topic_prefix) and a.home != b.home
    assert b.window.length_ms == 20_000 and a.summarize.engine == "extractive"
    shared = Settings().home
    for name in SHARED_HOME_FOLDERS:
        if (shared / name).is_dir():
            assert (a.home / name).resolve() == (shared / name).resolve()
    assert sorted(p.name for p in a.home.iterdir()) == sorted(n for n in SHARED_HOME_FOLDERS if (shared / n).is_dir())
