"""The subscriber SDK: follow an output topic (embeddings, tags, segments, dlq) as decoded, de-duplicated updates.

    from streams.kafka import KafkaConfig
    from streams.sdk.subscribe import follow

    kafka = KafkaConfig("broker-1:9093", security_protocol="SASL_SSL", sasl_username="me", sasl_password="...",
                        ssl_cafile=Path("ca.pem"))          # or the worker's Settings()
    async with follow("ampere.embeddings", kafka, group="my-copy") as updates:
        async for u in updates:
            save(u.object_id, u.revision, u.vector, u.value)   # u.vector: float32 numpy array

Delivery is at least once: the group's offset of a record is committed only after the loop asked for
the next one (the record was handled), so a restarted subscriber resumes after the last handled
record and may see the few records handled but not yet committed again. Within one run, a record
whose ``object_id`` was already seen with the same or a newer ``revision`` (missing revision = 1) is
skipped; keep the ``(object_id, revision)`` rule in your own store to make replays harmless. A
segment (``ampere.segments``) is identified by its ``segment_id``, which ``object_id`` then holds:

    async with follow("ampere.segments", kafka, group="timeline") as updates:
        async for u in updates:            # each segment's newest revision, as it is revised
            timeline[u.object_id] = u.value  # stream_id, start_ms, end_ms, product_id, claimed, ...
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Literal, Self

import numpy as np
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError

from streams.kafka import KafkaSource, async_consumer
from streams.kafka.clients import topic_partitions

log = logging.getLogger("ampere.subscribe")

StartAt = Literal["committed", "beginning", "end"] | int  # an int: that many last records per partition


@dataclass(frozen=True)
class Update:
    """One record of an output topic, decoded."""

    topic: str
    partition: int
    offset: int
    key: str | None
    value: dict[str, Any]
    object_id: str | None
    revision: int
    vector: np.ndarray | None

    @property
    def undecodable(self) -> bool:
        """True when the value was not a JSON object (``value`` then holds the raw text)."""
        return "_raw" in self.value


def decode(topic: str, partition: int, offset: int, key: bytes | None, raw: bytes | None) -> Update:
    """Decode one message: JSON value, ``revision`` (default 1), ``vector`` as float32."""
    try:
        value = json.loads(raw) if raw is not None else None
    except (UnicodeDecodeError, json.JSONDecodeError):
        value = None
    if not isinstance(value, dict):
        value = {"_raw": (raw or b"").decode("utf-8", "replace")}
    vec = value.get("vector")
    rev = value.get("revision")
    oid = value.get("object_id", value.get("segment_id"))
    return Update(
        topic=topic,
        partition=partition,
        offset=offset,
        key=key.decode("utf-8", "replace") if key is not None else None,
        value=value,
        object_id=oid if isinstance(oid, str) else None,
        revision=rev if isinstance(rev, int) and not isinstance(rev, bool) and rev >= 1 else 1,
        vector=np.asarray(vec, dtype=np.float32) if isinstance(vec, list) else None,
    )


class Dedup:
    """Remembers the newest revision seen per object id (bounded, least recently seen forgotten first)."""

    def __init__(self, max_ids: int = 1_000_000) -> None:
        self.max_ids = max_ids
        self._seen: OrderedDict[str, int] = OrderedDict()

    def fresh(self, object_id: str | None, revision: int) -> bool:
        """True (and remembered) when this object id has not been seen at this or a newer revision."""
        if object_id is None:
            return True
        prev = self._seen.pop(object_id, None)
        if prev is not None and prev >= revision:
            self._seen[object_id] = prev
            return False
        self._seen[object_id] = revision
        while len(self._seen) > self.max_ids:
            self._seen.popitem(last=False)
        return True


class _Seek(ConsumerRebalanceListener):
    def __init__(self, consumer: AIOKafkaConsumer, start: StartAt) -> None:
        self.consumer, self.start = consumer, start
        self.done: set[TopicPartition] = set()

    async def on_partitions_revoked(self, revoked) -> None:
        return None

    async def on_partitions_assigned(self, assigned) -> None:
        new = [tp for tp in assigned if tp not in self.done]  # seek once; later rebalances keep positions
        if new and self.start == "beginning":
            await self.consumer.seek_to_beginning(*new)
        elif new and self.start == "end":
            await self.consumer.seek_to_end(*new)
        self.done |= set(new)


class Subscription:
    """An async iterator of :class:`Update`; use it with ``async with`` so offsets are committed on exit."""

    def __init__(
        self,
        topic: str,
        kafka: KafkaSource,
        *,
        group: str | None,
        start: StartAt,
        dedupe: bool,
        idle_timeout_s: float | None,
        wait_for_topic_s: float = 0.0,
        max_fetch_bytes: int | None = None,
    ) -> None:
        if group is None and start == "committed":
            raise ValueError("resuming from committed offsets needs a consumer group (group=...)")
        if isinstance(start, int) and (group is not None or start < 0):
            raise ValueError("start=<n> (the last n records per partition) needs n >= 0 and no group")
        self.topic, self.group, self.start, self.kafka = topic, group, start, kafka
        self.idle_timeout_s, self.wait_for_topic_s = idle_timeout_s, wait_for_topic_s
        self.dedup = Dedup() if dedupe else None
        self.skipped = 0
        extra = {"max_partition_fetch_bytes": max_fetch_bytes, "fetch_max_bytes": 4 * max_fetch_bytes} if max_fetch_bytes else {}
        self._consumer: AIOKafkaConsumer = async_consumer(
            kafka, group_id=group, auto_offset_reset="latest" if start == "end" else "earliest", **extra
        )
        self._handled: dict[TopicPartition, int] = {}
        self._pending: tuple[TopicPartition, int] | None = None
        self._buffer: list = []

    async def __aenter__(self) -> Self:
        await self._consumer.start()
        try:
            if self.group is not None:
                self._consumer.subscribe([self.topic], listener=_Seek(self._consumer, self.start))
            else:
                await self._assign_all()
        except BaseException:
            await self._consumer.stop()
            raise
        return self

    async def _partitions(self) -> set[int]:
        """The topic's partitions from fresh metadata, waiting up to ``wait_for_topic_s`` for the topic."""
        deadline = time.monotonic() + self.wait_for_topic_s
        while True:
            parts = await asyncio.to_thread(topic_partitions, self.kafka, self.topic)
            if parts:
                return parts
            if time.monotonic() >= deadline:
                raise LookupError(f"topic {self.topic} does not exist (is the worker set up with the same prefix?)")
            log.info("waiting for topic %s", self.topic)
            await asyncio.sleep(min(2.0, max(0.1, deadline - time.monotonic())))

    async def _assign_all(self) -> None:
        tps = [TopicPartition(self.topic, p) for p in sorted(await self._partitions())]
        self._consumer.assign(tps)
        if self.start == "beginning":
            await self._consumer.seek_to_beginning(*tps)
        elif isinstance(self.start, int):
            begins, ends = await self._consumer.beginning_offsets(tps), await self._consumer.end_offsets(tps)
            for tp in tps:
                self._consumer.seek(tp, max(begins[tp], ends[tp] - self.start))
        else:
            await self._consumer.seek_to_end(*tps)
        for tp in tps:  # resolve the positions now: nothing sent after this returns is missed
            await self._consumer.position(tp)

    async def __aexit__(self, *exc: object) -> None:
        try:
            if exc[0] is None:  # the last update was handled without an error
                self._mark_handled()
            await self.commit()
        finally:
            await self._consumer.stop()

    def _mark_handled(self) -> None:
        if self._pending is not None:
            tp, off = self._pending
            self._handled[tp] = off + 1
            self._pending = None

    async def commit(self) -> None:
        """Commit the offsets of every handled record (a no-op without a group)."""
        if self.group is not None and self._handled:
            try:
                await self._consumer.commit(dict(self._handled))
            except (CommitFailedError, IllegalStateError) as exc:  # partitions moved to another member
                log.warning("commit failed (%s); those records will be delivered again", exc)
            self._handled.clear()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Update:
        self._mark_handled()
        while True:
            while self._buffer:
                m = self._buffer.pop(0)
                u = decode(m.topic, m.partition, m.offset, m.key, m.value)
                self._pending = (TopicPartition(m.topic, m.partition), m.offset)
                if self.dedup is not None and not self.dedup.fresh(u.object_id, u.revision):
                    self.skipped += 1
                    self._mark_handled()
                    continue
                return u
            await self.commit()
            wait_ms = int((self.idle_timeout_s or 1.0) * 1000)
            batch = await self._consumer.getmany(timeout_ms=wait_ms)
            if not batch:
                if self.idle_timeout_s is not None:
                    raise StopAsyncIteration
                continue
            self._buffer = sorted((m for msgs in batch.values() for m in msgs), key=lambda m: (m.timestamp, m.partition, m.offset))


def follow(
    topic: str,
    kafka: KafkaSource,
    *,
    group: str | None = None,
    start: StartAt = "committed",
    dedupe: bool = True,
    idle_timeout_s: float | None = None,
    wait_for_topic_s: float = 0.0,
    max_fetch_bytes: int | None = None,
) -> Subscription:
    """Follow ``topic`` on the brokers of ``kafka`` (the worker's Settings or a KafkaConfig with its
    address and security). ``start`` = "committed" (resume the group; a new group starts at the
    beginning), "beginning", "end" (only records sent from now on) or an int n (the last n records per
    partition, then live; no group). ``group`` names your consumer group (needed to resume);
    ``idle_timeout_s`` ends the iteration after that many quiet seconds (None = follow forever);
    ``wait_for_topic_s`` waits that long for a topic that does not exist yet."""
    return Subscription(topic, kafka, group=group, start=start, dedupe=dedupe, idle_timeout_s=idle_timeout_s,
                        wait_for_topic_s=wait_for_topic_s, max_fetch_bytes=max_fetch_bytes)
