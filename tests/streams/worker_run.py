"""One real worker run for the integration tests: publish a catalog, wait until it is indexed, replay
a timeline, collect every output until the worker goes quiet, stop the worker."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from engines.store.weaviate_store import WeaviateStore
from streams.kafka.topics import TopicNames
from streams.sdk.publish import Outgoing, replay, send_all
from streams.settings import Settings
from tests.streams.test_pipeline_integration import _stop, _wait_products
from tooling.consume import spawn_worker
from tooling.demo import Subscriber, settings_env


def run_worker_on(settings: Settings, store: WeaviateStore, catalog: Sequence[Outgoing], timeline: Sequence[Outgoing],
                  log_dir: Path, timeout_s: float = 400) -> Subscriber:
    """The subscriber's view of one worker that indexed ``catalog`` and then ``timeline`` (the worker is
    stopped on return; it must still be running at the end)."""
    topics = TopicNames(settings.topic_prefix)
    log = log_dir / "worker.log"
    worker = spawn_worker(settings_env(settings), log)

    async def run() -> Subscriber:
        sub = Subscriber(settings.kafka, topics)
        await sub.start()
        await send_all(settings.kafka, list(catalog))
        await _wait_products(store, len(catalog), worker, log)
        await replay(settings.kafka, list(timeline), speed=0)
        await sub.wait_done(settle_s=8, timeout_s=timeout_s, alive=lambda: worker.poll() is None)
        await sub.stop()
        return sub

    try:
        sub = asyncio.run(run())
        assert worker.poll() is None, log.read_text()[-3000:]
        return sub
    finally:
        _stop(worker)
