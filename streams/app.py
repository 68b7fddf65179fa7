"""The Faust app: thin agents that parse, call the stage functions, and forward bytes.

    asr.chunks ─┐
    keyframes  ─┼─▶ window ─▶ windows ─▶ summarize ─▶ summaries ─▶ embed+index ─▶ embeddings ─▶ tag ─▶ tags
    stream.events┘                                                                   ▲
    products ─────────────────────────────────────────────▶ catalog (embed+index) ──┘
    anything malformed ─▶ dlq

Offsets are committed only after a batch's body finished (``take_events`` acks then), and the
bodies only finish after the store accepted the upsert and the outputs were delivered.
Window state lives in a changelog-backed table; Faust flushes the changelog before it commits
source offsets, and replayed events are idempotent (see ``streams.windowing``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import faust

from engines.encode.base import Encoder
from engines.store.weaviate_store import WeaviateStore
from engines.summarize.base import Summarizer
from streams import stages
from streams.ingest import apply_message, window_config
from streams.schemas import (
    BadRecord,
    EmbeddingRecord,
    ProductRecordMsg,
    StreamEventRecord,
    SummaryRecordMsg,
    WindowRecord,
    dump_record,
    parse_record,
)
from streams.settings import Settings
from streams.topics import TopicNames
from streams.windowing import StreamState

log = logging.getLogger("ampere.worker")


@dataclass
class Engines:
    """The heavy parts the agents call; built lazily in the worker process."""

    summarizer: Summarizer
    fallback: Summarizer
    encoder: Encoder
    store: WeaviateStore


async def retry_forever(what: str, fn: Callable[[], Awaitable[Any]], max_backoff_s: float = 10.0) -> Any:
    """Retry an infrastructure call (store down, broker hiccup) until it works: nothing is dropped."""
    delay = 0.2
    while True:
        try:
            return await fn()
        except Exception as exc:  # noqa: BLE001 - any failure of the service is retried
            log.warning("%s failed (%s); retrying in %.1fs", what, exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_backoff_s)


def create_app(settings: Settings, engines_factory: Callable[[], Engines]) -> faust.App:
    """The worker app; ``engines_factory`` is called once, on first use, in the worker."""
    topics = TopicNames(settings.topic_prefix)
    cfg = window_config(settings)
    app = faust.App(
        f"{settings.topic_prefix}-worker",
        broker=f"kafka://{settings.kafka_bootstrap}",
        store="memory://",
        datadir=str(settings.home / "faust" / settings.topic_prefix),
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=1,
        value_serializer="raw",
        key_serializer="raw",
        web_enabled=False,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=1.0,
        producer_max_request_size=8 * 1024 * 1024,
        stream_wait_empty=False,
    )
    t_in = app.topic(topics.asr, topics.keyframes, topics.events, value_serializer="raw", key_serializer="raw")
    t_events = app.topic(topics.events, value_serializer="raw", key_serializer="raw")
    t_products = app.topic(topics.products, value_serializer="raw", key_serializer="raw")
    t_windows = app.topic(topics.windows, value_serializer="raw", key_serializer="raw")
    t_summaries = app.topic(topics.summaries, value_serializer="raw", key_serializer="raw")
    t_embeddings = app.topic(topics.embeddings, value_serializer="raw", key_serializer="raw")
    t_tags = app.topic(topics.tags, value_serializer="raw", key_serializer="raw")
    t_dlq = app.topic(topics.dlq, value_serializer="raw", key_serializer="raw")
    state = app.Table("stream-state", default=None, key_type=str, value_type=bytes)

    holder: dict[str, Engines] = {}

    def engines() -> Engines:
        if "e" not in holder:
            holder["e"] = engines_factory()
        return holder["e"]

    async def deliver(topic: faust.TopicT, key: bytes | None, value: bytes) -> None:
        """Send and wait until the broker acknowledged it."""
        fut = await topic.send(key=key, value=value)
        await fut

    async def to_dlq(event: faust.EventT, reason: str) -> None:
        m = event.message
        log.warning("DLQ %s[%s]@%s: %s", m.topic, m.partition, m.offset, reason)
        rec = stages.dead_letter(m.topic, m.partition, m.offset, m.key, m.value, reason)
        await deliver(t_dlq, m.key, dump_record(rec))

    # ---------------------------------------------------------------- window
    @app.agent(t_in)
    async def window(stream: faust.StreamT) -> None:
        async for event in stream.events():
            m = event.message
            key = m.key or b""
            try:
                prev = state.get(key.decode("utf-8", "replace"))
                st = StreamState.from_dict(json.loads(prev)) if prev else None
                st_new, applied, stream_id = await asyncio.to_thread(
                    apply_message, m.topic, event.value, st, time.time(), settings, cfg, topics
                )
                if key.decode() != stream_id:
                    raise BadRecord(f"message key {key!r} differs from stream_id {stream_id!r}")
            except BadRecord as exc:
                await to_dlq(event, exc.reason)
                continue
            except Exception as exc:  # noqa: BLE001 - a poison message must not stop the worker
                await to_dlq(event, f"unexpected {type(exc).__name__}: {exc}")
                continue
            if applied.late:
                await to_dlq(event, applied.late)
            now = time.time()
            for cw in applied.closed:
                await deliver(t_windows, cw.stream_id.encode(), dump_record(stages.window_record(cw, now)))
            if st_new is not None and (not applied.duplicate or applied.closed):
                state[stream_id] = json.dumps(st_new.to_dict()).encode()

    @app.timer(interval=0.5)
    async def idle_sweep() -> None:
        """Ask the window agent (through the log, so state stays partition-safe) to check idle streams."""
        now = time.time()
        for stream_id, raw in list(state.items()):
            d = json.loads(raw) if raw else None
            quiet_ms = cfg.end_settle_ms if d and d.get("ended") else cfg.idle_close_ms
            if d and d.get("windows") and (now - d["last_wall"]) * 1000 >= quiet_ms:
                ts = max(d["watermarks"].values(), default=0)
                rec = StreamEventRecord(stream_id=stream_id, ts_ms=ts, type="idle_check")
                await t_events.send(key=stream_id.encode(), value=dump_record(rec))

    # ---------------------------------------------------------------- summarize
    @app.agent(t_windows)
    async def summarize(stream: faust.StreamT) -> None:
        async for events in stream.take_events(settings.batch_size, within=settings.batch_wait_ms / 1000):
            good: list[WindowRecord] = []
            for ev in events:
                try:
                    good.append(parse_record(ev.value, WindowRecord))
                except BadRecord as exc:
                    await to_dlq(ev, exc.reason)
            # with a lag bound, windows go one by one so the bound is checked before every LLM call
            # and each summary is published as soon as it exists
            groups = [[w] for w in good] if settings.summary_max_lag_ms > 0 else [good] if good else []
            for group in groups:
                try:
                    summaries = await stages.summarize_with_shedding(
                        engines().summarizer, engines().fallback, group, time.time(), settings.summary_max_lag_ms / 1000
                    )
                except Exception as exc:  # noqa: BLE001 - the engine broke its contract: never drop the windows
                    log.warning("summarizer failed (%s); using the extractive summary for %d windows", exc, len(group))
                    summaries = await engines().fallback.asummarize(stages.summary_requests(group))
                for rec in stages.summary_records(group, summaries, time.time()):
                    await deliver(t_summaries, rec.window.stream_id.encode(), dump_record(rec))

    # ---------------------------------------------------------------- encode + index
    async def _encode(recs: list, items: list, evs: list) -> tuple[list, Any]:
        """Encode a batch; if the batch fails, encode item by item and dead-letter the ones that fail."""
        encoder = engines().encoder
        try:
            return recs, await asyncio.to_thread(encoder.encode, items)
        except Exception as exc:  # noqa: BLE001 - isolate the poison item, keep the rest
            log.warning("batch encode failed (%s); retrying item by item", exc)
        kept, parts = [], []
        for rec, item, ev in zip(recs, items, evs):
            try:
                parts.append(await asyncio.to_thread(encoder.encode, [item]))
                kept.append(rec)
            except Exception as exc:  # noqa: BLE001
                await to_dlq(ev, f"cannot encode: {type(exc).__name__}: {exc}")
        return kept, stages.concat_embeddings(parts) if parts else None

    async def _index_and_publish(batch: stages.IndexedBatch) -> None:
        store = engines().store
        await retry_forever("store upsert", lambda: asyncio.to_thread(store.upsert, batch.objects))
        now = time.time()
        for rec in stages.stamp_indexed(batch.records, now):
            key = (rec.stream_id or rec.product_id or "").encode()
            await deliver(t_embeddings, key, dump_record(rec))

    async def _items_or_dlq(events: Sequence[faust.EventT], parse: Callable[[bytes], Any], to_item: Callable[[Any], Any]):
        recs, items, evs = [], [], []
        for ev in events:
            try:
                rec = parse(ev.value)
                item = await asyncio.to_thread(to_item, rec)
            except BadRecord as exc:
                await to_dlq(ev, exc.reason)
                continue
            except Exception as exc:  # noqa: BLE001
                await to_dlq(ev, f"unexpected {type(exc).__name__}: {exc}")
                continue
            recs.append(rec)
            items.append(item)
            evs.append(ev)
        return recs, items, evs

    @app.agent(t_summaries)
    async def embed(stream: faust.StreamT) -> None:
        async for events in stream.take_events(settings.batch_size, within=settings.batch_wait_ms / 1000):
            recs, items, evs = await _items_or_dlq(
                events, lambda raw: parse_record(raw, SummaryRecordMsg), lambda r: stages.moment_item(r, r.window.domain)
            )
            if not recs:
                continue
            t0 = time.time()
            recs, emb = await _encode(recs, items, evs)
            if recs:
                batch = stages.moment_batches(recs, emb, {"encode": time.time() - t0})
                await _index_and_publish(batch)

    @app.agent(t_products)
    async def catalog(stream: faust.StreamT) -> None:
        async for events in stream.take_events(settings.batch_size, within=settings.batch_wait_ms / 1000):
            recs, items, evs = await _items_or_dlq(
                events,
                lambda raw: parse_record(raw, ProductRecordMsg, max_bytes=settings.max_image_bytes * 8),
                lambda r: stages.product_item(r, settings.max_image_bytes),
            )
            if not recs:
                continue
            recs, emb = await _encode(recs, items, evs)
            if recs:
                await _index_and_publish(stages.product_objects(recs, emb))

    # ---------------------------------------------------------------- tag
    @app.agent(t_embeddings)
    async def tag(stream: faust.StreamT) -> None:
        async for events in stream.take_events(settings.batch_size, within=settings.batch_wait_ms / 1000):
            for ev in events:
                try:
                    rec = parse_record(ev.value, EmbeddingRecord)
                except BadRecord as exc:
                    await to_dlq(ev, exc.reason)
                    continue
                if rec.kind != "live":
                    continue
                store = engines().store
                hits = await retry_forever(
                    "product search",
                    lambda rec=rec, store=store: asyncio.to_thread(stages.search_products, store, rec, settings.tag_top_k),
                )
                out = stages.tag_record(rec, hits, settings.tag_min_score, time.time())
                await deliver(t_tags, rec.stream_id.encode() if rec.stream_id else None, dump_record(out))

    return app
