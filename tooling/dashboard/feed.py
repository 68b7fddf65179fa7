"""Feeds the dashboard from Kafka: follows the topics into a ``DashboardState`` and fans updates out."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from streams.kafka import KafkaSource
from streams.kafka.topics import TopicNames
from streams.sdk.subscribe import follow
from tooling.dashboard.state import DashboardState

log = logging.getLogger("ampere.dashboard")


async def tail(kafka: KafkaSource, topic: str, last: int | None, ready: asyncio.Event) -> AsyncIterator[dict[str, Any]]:
    """Decoded JSON records of ``topic``: the last ``last`` per partition (None = all), then live ones;
    waits for a topic that does not exist yet."""
    start = "beginning" if last is None else last
    async with follow(topic, kafka, start=start, dedupe=False, wait_for_topic_s=float("inf"),
                      max_fetch_bytes=16 * 1024 * 1024) as updates:
        ready.set()
        async for u in updates:
            if not u.undecodable:
                yield u.value


class Feed:
    """Runs one follower per topic; ``subscribe()`` gives a queue of the updates for one browser."""

    def __init__(self, target: KafkaSource, topics: TopicNames, state: DashboardState, history: int = 200) -> None:
        self.target, self.topics, self.state, self.history = target, topics, state, history
        self.queues: set[asyncio.Queue] = set()
        self.tasks: list[asyncio.Task] = []
        self.ready: list[asyncio.Event] = []

    def _routes(self) -> list[tuple[str, int | None, Callable[[dict], dict | None]]]:
        s, t = self.state, self.topics
        return [
            (t.products, None, s.on_product),  # the whole catalog: its photos
            (t.windows, self.history, s.on_window),  # keyframe thumbnails
            (t.embeddings, self.history, s.on_embedding),
            (t.tags, self.history, s.on_tag),
            (t.segments, self.history, s.on_segment),
            (t.dlq, self.history, s.on_dlq),
        ]

    async def start(self) -> None:
        for topic, last, handler in self._routes():
            ev = asyncio.Event()
            self.ready.append(ev)
            self.tasks.append(asyncio.create_task(self._run(topic, last, handler, ev), name=f"feed {topic}"))

    async def _run(self, topic: str, last: int | None, handler: Callable[[dict], dict | None], ready: asyncio.Event) -> None:
        while True:
            try:
                async for rec in tail(self.target, topic, last, ready):
                    update = handler(rec)
                    if update is not None:
                        self.publish(update)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - broker gone for a while: follow again, from now
                log.warning("following %s failed (%s); retrying", topic, exc)
                last = 0
                await asyncio.sleep(2.0)

    def publish(self, update: dict[str, Any]) -> None:
        for q in list(self.queues):
            if q.qsize() < 1000:  # a stalled browser loses updates, never the server's memory
                q.put_nowait(update)

    def subscribe(self) -> asyncio.Queue:
        q: asyncio.Queue = asyncio.Queue()
        self.queues.add(q)
        return q

    def unsubscribe(self, q: asyncio.Queue) -> None:
        self.queues.discard(q)

    async def stop(self) -> None:
        for t in self.tasks:
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
