"""The worker's Faust producer (the agents' outputs) is built idempotent with acks=all, like every other
producer of the project: a retried send after a leader change is written once."""

from __future__ import annotations

import asyncio

from streams.settings import Settings
from streams.worker.app import create_app


def test_the_faust_producer_is_idempotent_with_acks_all(tmp_path) -> None:
    settings = Settings(home=tmp_path, topic_prefix="prodtest", topic_replication_factor=1)

    async def build() -> tuple[object, int, object]:
        app = create_app(settings, lambda: None)
        client = app.producer._new_producer()  # the aiokafka producer Faust starts on the worker (not started)
        return client, app.producer.acks, app.conf.producer_acks

    client, acks, conf_acks = asyncio.run(build())
    assert conf_acks == -1 and acks == -1
    assert client._txn_manager is not None  # aiokafka keeps a transaction manager only when idempotent
    assert client._txn_manager.transactional_id is None  # idempotent, not transactional


def test_the_faust_clients_refresh_their_view_of_the_partition_leaders_within_seconds(tmp_path) -> None:
    from streams.kafka.clients import METADATA_MAX_AGE_MS

    app = create_app(Settings(home=tmp_path, topic_prefix="mdtest"), lambda: None)
    assert app.conf.consumer_metadata_max_age_ms / 1000 == METADATA_MAX_AGE_MS / 1000 <= 30
    assert app.conf.producer_metadata_max_age_ms / 1000 == METADATA_MAX_AGE_MS / 1000
