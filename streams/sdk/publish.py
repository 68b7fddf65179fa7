"""Broadcaster side: turn a dataset into topic messages and replay them at real or accelerated speed."""

from __future__ import annotations

import asyncio
import base64
import heapq
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from encoders.dataset import Dataset, MomentRecord, ProductRecord
from streams.kafka import KafkaSource, async_producer
from streams.kafka.topics import TopicNames, is_events_topic
from streams.schemas import (
    AsrChunkRecord,
    KeyframeRecord,
    ProductRecordMsg,
    StreamEventRecord,
    dump_record,
)


@dataclass(frozen=True, order=True)
class Outgoing:
    """One message of a replay, at ``ts_ms`` of its stream's clock."""

    ts_ms: int
    order: int
    topic: str
    key: bytes
    value: bytes


def lineup_event(stream_id: str, ts_ms: int, product_ids: Sequence[str]) -> StreamEventRecord:
    """The broadcaster's lineup of a stream from ``ts_ms`` on: the catalog products it shows (the room's
    product list; ``[]`` clears it). Send it again with another list when the lineup changes."""
    return StreamEventRecord(stream_id=stream_id, ts_ms=ts_ms, type="lineup", product_ids=list(product_ids))


def dataset_lineup(ds: Dataset, moments: Sequence[MomentRecord], size: int, seed: int = 0) -> list[str]:
    """A lineup of ``size`` catalog products for a sample stream: every product it shows, then others of
    the catalog drawn with ``seed`` (a seller's product list holds more than one show presents)."""
    shown = list(dict.fromkeys(m.product_id for m in moments if m.product_id))
    others = sorted(p.product_id for p in ds.products if p.product_id not in shown)
    random.Random(seed).shuffle(others)
    return (shown + others)[: max(size, len(shown))]


def stream_messages(
    ds: Dataset, stream_id: str, moments: Sequence[MomentRecord], topics: TopicNames, *, rename: str | None = None,
    lineup: Sequence[str] | None = None, seller_id: str | None = None,
) -> list[Outgoing]:
    """Messages of one live stream in time order: start (of ``seller_id``'s catalog when given), its
    lineup (when given), product switches, ASR, keyframes, end.

    Product-switch markers carry no product id: the broadcaster marks the moment, the index finds
    the product. ``rename`` publishes the stream under another id (benchmarks replay copies).
    """
    sid = rename or stream_id
    key = sid.encode()
    out: list[Outgoing] = []
    n = 0

    def add(ts: int, topic: str, value: bytes) -> None:
        nonlocal n
        out.append(Outgoing(ts, n, topic, key, value))
        n += 1

    first = min((c.start_ms for m in moments for c in m.asr), default=0)
    domain = moments[0].domain if moments else "live"
    add(first, topics.events, dump_record(StreamEventRecord(stream_id=sid, ts_ms=first, type="start", domain=domain,
                                                     seller_id=seller_id)))
    if lineup is not None:
        add(first, topics.events, dump_record(lineup_event(sid, first, lineup)))
    seq, last = 0, first
    for i, m in enumerate(moments):
        times = [c.start_ms for c in m.asr] + [k.ts_ms for k in m.keyframes]
        seg_start = min(times, default=last)
        if i > 0:
            add(seg_start, topics.events, dump_record(StreamEventRecord(stream_id=sid, ts_ms=seg_start, type="product_switch")))
        for c in m.asr:
            rec = AsrChunkRecord(stream_id=sid, seq=seq, start_ms=c.start_ms, end_ms=c.end_ms, text=c.text, lang=c.lang)
            add(c.start_ms, topics.asr, dump_record(rec))
            seq += 1
            last = max(last, c.end_ms)
        for k in m.keyframes:
            data = ds.path(k.path).read_bytes()
            rec = KeyframeRecord(stream_id=sid, ts_ms=k.ts_ms, image_b64=base64.b64encode(data).decode())
            add(k.ts_ms, topics.keyframes, dump_record(rec))
            last = max(last, k.ts_ms)
    add(last + 1, topics.events, dump_record(StreamEventRecord(stream_id=sid, ts_ms=last + 1, type="end")))
    return sorted(out)


def product_message(ds: Dataset, p: ProductRecord, topics: TopicNames, max_images: int = 2, *,
                    seller_id: str | None = None, product_id: str | None = None) -> Outgoing:
    """The catalog message of one product, photos inline (sold by ``seller_id`` when given; published as
    ``product_id`` when given)."""
    imgs = [base64.b64encode(ds.path(i).read_bytes()).decode() for i in p.images[:max_images]]
    pid = product_id or p.product_id
    rec = ProductRecordMsg(
        product_id=pid,
        seller_id=seller_id,
        title=p.title,
        description=p.description,
        category=p.category,
        brand=p.brand,
        attributes=p.attributes,
        images_b64=imgs,
    )
    return Outgoing(0, 0, topics.products, pid.encode(), dump_record(rec))


def merge_streams(streams: Iterable[list[Outgoing]], starts_ms: Sequence[int] | None = None) -> list[tuple[int, Outgoing]]:
    """Interleave several streams' messages by stream time. All streams start together, or stream ``i``
    ``starts_ms[i]`` later (its send time only: the event times in the records stay as they are)."""
    streams = list(streams)
    starts = list(starts_ms) if starts_ms is not None else [0] * len(streams)
    if len(starts) != len(streams):
        raise ValueError(f"{len(starts)} start offsets for {len(streams)} streams")
    tagged = [[(m.ts_ms - (s[0].ts_ms if s else 0) + starts[i], i, m) for m in s] for i, s in enumerate(streams)]
    return [(t, m) for t, _, m in heapq.merge(*tagged, key=lambda x: (x[0], x[1], x[2].order))]


async def replay(
    kafka: KafkaSource,
    timeline: Sequence[tuple[int, Outgoing]],
    *,
    speed: float = 1.0,
    on_sent: Callable[[Outgoing], None] | None = None,
) -> int:
    """Send a merged timeline; ``speed`` 1 = real time, 10 = ten times faster, 0 = as fast as possible.
    A broadcaster event (a product switch, a lineup, an end) is acknowledged before anything after it is
    sent: the events topic and the content topics have different leaders, and a switch still queued
    behind large keyframes would otherwise reach the log after the content it splits (CONTRACT.md,
    "Time")."""
    producer = async_producer(kafka, linger_ms=5)
    await producer.start()
    try:
        t0 = time.monotonic()
        pending = []
        for rel_ms, m in timeline:
            if speed > 0:
                wait = rel_ms / 1000 / speed - (time.monotonic() - t0)
                if wait > 0:
                    await asyncio.sleep(wait)
            fut = await producer.send(m.topic, m.value, key=m.key)
            if is_events_topic(m.topic):
                await fut
            pending.append(fut)
            if on_sent:
                on_sent(m)
        await asyncio.gather(*pending)
        return len(pending)
    finally:
        await producer.stop()


async def send_all(kafka: KafkaSource, messages: Sequence[Outgoing]) -> int:
    """Send messages as fast as possible (catalog loads)."""
    return await replay(kafka, [(0, m) for m in messages], speed=0)
