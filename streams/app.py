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
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import faust

from engines.encode.base import Encoder
from engines.store.weaviate_store import WeaviateStore
from engines.summarize.base import Summarizer
from streams import stages
from streams.errors import PermanentError
from streams.image_source import uri_policy
from streams.ingest import apply_message, window_config
from streams.kafka_conn import faust_credentials, producer_max_request_size
from streams.retry import backoff_s, call_with_retries
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


def _unexpected(exc: BaseException) -> str:
    """A DLQ reason for an exception nobody planned for."""
    return f"unexpected {type(exc).__name__}: {str(exc)[:500]}"


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
        broker_credentials=faust_credentials(settings),
        topic_replication_factor=settings.topic_replication_factor,
        value_serializer="raw",
        key_serializer="raw",
        web_enabled=False,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=1.0,
        producer_max_request_size=producer_max_request_size(settings),
        consumer_max_fetch_size=producer_max_request_size(settings),
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
    counters: Counter[str] = Counter()  # refine_shed, refine_fallback, stale_skipped, batch_errors
    app.ampere_counters = counters  # type: ignore[attr-defined]

    def engines() -> Engines:
        if "e" not in holder:
            holder["e"] = engines_factory()
        return holder["e"]

    async def deliver(topic: faust.TopicT, key: bytes | None, value: bytes) -> None:
        """Send and wait until the broker acknowledged it."""
        fut = await topic.send(key=key, value=value)
        await fut

    async def to_dlq(event: faust.EventT, reason: str) -> None:
        """Dead-letter one message; never raises: a capped copy of the value, else the reason alone,
        and while the broker cannot take even that, retry until it can (the offset is not committed)."""
        m = event.message
        log.warning("DLQ %s[%s]@%s: %s", m.topic, m.partition, m.offset, reason[:500])
        key = m.key[: stages.DLQ_KEY_BYTES] if m.key else None
        attempt = 0
        for cap in (settings.dlq_max_value_bytes, 0):
            try:
                rec = stages.dead_letter(m.topic, m.partition, m.offset, m.key, m.value, reason, max_value_bytes=cap)
                await deliver(t_dlq, key, dump_record(rec))
                return
            except Exception as exc:  # noqa: BLE001 - fall back to the reason-only record
                log.error("dead letter with %d value bytes failed (%s: %s)", cap, type(exc).__name__, exc)
        while True:
            await asyncio.sleep(backoff_s(attempt))
            attempt += 1
            try:
                rec = stages.dead_letter(m.topic, m.partition, m.offset, m.key, m.value, reason, max_value_bytes=0)
                await deliver(t_dlq, key, dump_record(rec))
                return
            except Exception as exc:  # noqa: BLE001 - the broker is down: keep the message uncommitted
                log.error("dead letter still failing (%s: %s); retry %d", type(exc).__name__, exc, attempt)

    async def guarded(events: list[faust.EventT], body: Callable[[list[faust.EventT]], Any]) -> None:
        """Run a batch body; if it raises, dead-letter the batch's events with the reason and go on."""
        try:
            await body(events)
        except Exception as exc:
            log.exception("batch of %d failed", len(events))
            for ev in events:
                await to_dlq(ev, _unexpected(exc))

    async def store_up() -> bool:
        return await asyncio.to_thread(engines().store.is_ready)

    async def store_call(what: str, fn: Callable[[], Any]) -> Any:
        """A store call retried while the store is down; PermanentError after bounded refusals."""
        return await call_with_retries(
            what, lambda: asyncio.to_thread(fn), service_up=store_up, permanent_tries=settings.store_permanent_tries
        )

    # ---------------------------------------------------------------- window
    @app.agent(t_in)
    async def window(stream: faust.StreamT) -> None:
        async for event in stream.events():
            try:
                await _window_one(event)
            except Exception as exc:  # noqa: BLE001 - a poison message must never stop the agent
                await to_dlq(event, _unexpected(exc))

    async def _window_one(event: faust.EventT) -> None:
        m = event.message
        key = m.key or b""
        try:
            prev = state.get(key.decode("utf-8", "replace"))
            st = StreamState.from_dict(json.loads(prev)) if prev else None
            st_new, applied, stream_id = await asyncio.to_thread(
                apply_message, m.topic, event.value, st, time.time(), settings, cfg, topics
            )
            if key.decode("utf-8", "replace") != stream_id:
                raise BadRecord(f"message key {key[:200]!r} differs from stream_id {stream_id!r}")
        except BadRecord as exc:
            await to_dlq(event, exc.reason)
            return
        if applied.late:
            await to_dlq(event, applied.late)
        now = time.time()
        for cw in applied.closed:
            await deliver(t_windows, cw.stream_id.encode(), dump_record(stages.window_record(cw, now)))
        if st_new is not None and (not applied.duplicate or applied.closed):
            state[stream_id] = json.dumps(st_new.to_dict(), ensure_ascii=True).encode()

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
    # Two phases (AMPERE_TWO_PHASE, default on with an LLM summarizer): `summarize` gives every window
    # the cheap extractive summary at once (revision 1, queryable within seconds) and `refine` sends the
    # LLM summary later under the same object id (revision 2). One phase: `summarize` runs the configured
    # summarizer (with optional load shedding) and there is no refinement.
    two_phase = settings.two_phase and settings.summarizer != "extractive"

    @app.agent(t_windows)
    async def summarize(stream: faust.StreamT) -> None:
        async for events in stream.take_events(settings.batch_size, within=settings.batch_wait_ms / 1000):
            await guarded(events, _summarize_batch)

    async def _summarize_batch(events: list[faust.EventT]) -> None:
        good: list[WindowRecord] = []
        for ev in events:
            try:
                good.append(parse_record(ev.value, WindowRecord))
            except BadRecord as exc:
                await to_dlq(ev, exc.reason)
        if two_phase:
            groups = [good] if good else []
        else:
            # with a lag bound, windows go one by one so the bound is checked before every LLM call
            # and each summary is published as soon as it exists
            groups = [[w] for w in good] if settings.summary_max_lag_ms > 0 else [good] if good else []
        for group in groups:
            try:
                if two_phase:
                    summaries = await engines().fallback.asummarize(stages.summary_requests(group))
                else:
                    summaries = await stages.summarize_with_shedding(
                        engines().summarizer, engines().fallback, group, time.time(), settings.summary_max_lag_ms / 1000
                    )
            except Exception as exc:  # noqa: BLE001 - the engine broke its contract: never drop the windows
                log.warning("summarizer failed (%s); using the extractive summary for %d windows", exc, len(group))
                summaries = await stages.fallback_summaries(engines().fallback, group, exc)
            for rec in stages.summary_records(group, summaries, time.time(), revision=1):
                await deliver(t_summaries, rec.window.stream_id.encode(), dump_record(rec))

    if two_phase:

        @app.agent(t_windows)
        async def refine(stream: faust.StreamT) -> None:
            async for events in stream.take_events(settings.batch_size, within=settings.batch_wait_ms / 1000):
                await guarded(events, _refine_batch, dead_letter=False)

    async def _refine_batch(events: list[faust.EventT]) -> None:
        """Revision 2: the LLM summary, one window at a time; shed (counted) when it waited too long,
        skipped when the LLM fell back (revision 1 already holds the extractive summary)."""
        for ev in events:
            try:
                w = parse_record(ev.value, WindowRecord)
            except BadRecord:
                continue  # `summarize` dead-letters it
            if not stages.refinement_due(w, time.time(), settings.refine_max_lag_ms / 1000):
                counters["refine_shed"] += 1
                log.info("refinement of %s shed: waited %.1fs", w.window_id, time.time() - w.closed_at)
                continue
            summary = (await engines().summarizer.asummarize(stages.summary_requests([w])))[0]
            if summary.is_fallback:
                counters["refine_fallback"] += 1
                log.info("refinement of %s skipped: %s", w.window_id, summary.fallback_reason)
                continue
            for rec in stages.summary_records([w], [summary], time.time(), revision=2):
                await deliver(t_summaries, rec.window.stream_id.encode(), dump_record(rec))

    # ---------------------------------------------------------------- encode + index
    async def _encode(recs: list, items: list, evs: list) -> tuple[list, Any, list]:
        """Encode a batch; if the batch fails, encode item by item and dead-letter the ones that fail."""
        encoder = engines().encoder
        try:
            return recs, await asyncio.to_thread(encoder.encode, items), evs
        except Exception as exc:  # noqa: BLE001 - isolate the poison item, keep the rest
            log.warning("batch encode failed (%s); retrying item by item", exc)
        kept, parts, kept_evs = [], [], []
        for rec, item, ev in zip(recs, items, evs):
            try:
                parts.append(await asyncio.to_thread(encoder.encode, [item]))
                kept.append(rec)
                kept_evs.append(ev)
            except Exception as exc:  # noqa: BLE001
                await to_dlq(ev, f"cannot encode: {type(exc).__name__}: {str(exc)[:500]}")
        return kept, stages.concat_embeddings(parts) if parts else None, kept_evs

    async def _index_and_publish(batch: stages.IndexedBatch, events_by_oid: dict[str, faust.EventT]) -> None:
        """Upsert a batch; objects the store refuses (while up) go to the DLQ one by one, the rest are
        published once stored."""
        store = engines().store
        if any(r.kind != "product" for r in batch.records):
            stored = await store_call("revision lookup", lambda: stages.stored_revisions(store, batch))
            batch, stale = stages.drop_stale(batch, stored)
            counters["stale_skipped"] += stale
            if not batch.objects:
                return
        try:
            await store_call("store upsert", lambda: store.upsert(batch.objects))
            kept = batch.records
        except PermanentError as exc:
            if len(batch.objects) == 1:
                await to_dlq(events_by_oid[batch.objects[0].object_id], exc.reason)
                return
            log.warning("batch upsert refused (%s); upserting one by one", exc.reason[:300])
            kept = []
            for obj, rec in zip(batch.objects, batch.records):
                try:
                    await store_call("store upsert", lambda obj=obj: store.upsert([obj]))
                    kept.append(rec)
                except PermanentError as one:
                    await to_dlq(events_by_oid[obj.object_id], one.reason)
        now = time.time()
        for rec in stages.stamp_indexed(kept, now):
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
                await to_dlq(ev, _unexpected(exc))
                continue
            recs.append(rec)
            items.append(item)
            evs.append(ev)
        return recs, items, evs

    @app.agent(t_summaries)
    async def embed(stream: faust.StreamT) -> None:
        async for events in stream.take_events(settings.batch_size, within=settings.batch_wait_ms / 1000):
            await guarded(events, _embed_batch)

    async def _embed_batch(events: list[faust.EventT]) -> None:
        recs, items, evs = await _items_or_dlq(
            events, lambda raw: parse_record(raw, SummaryRecordMsg), lambda r: stages.moment_item(r, r.window.domain)
        )
        if not recs:
            return
        t0 = time.time()
        recs, emb, evs = await _encode(recs, items, evs)
        if recs:
            batch = stages.moment_batches(recs, emb, {"encode": time.time() - t0})
            await _index_and_publish(batch, stages.events_by_object_id(recs, evs, emb.model_version))

    @app.agent(t_products)
    async def catalog(stream: faust.StreamT) -> None:
        async for events in stream.take_events(settings.batch_size, within=settings.batch_wait_ms / 1000):
            await guarded(events, _catalog_batch)

    async def _catalog_batch(events: list[faust.EventT]) -> None:
        recs, items, evs = await _items_or_dlq(
            events,
            lambda raw: parse_record(raw, ProductRecordMsg, max_bytes=settings.max_message_bytes),
            lambda r: stages.product_item(r, uri_policy(settings), settings.max_image_pixels),
        )
        if not recs:
            return
        recs, emb, evs = await _encode(recs, items, evs)
        if recs:
            await _index_and_publish(
                stages.product_objects(recs, emb), stages.events_by_object_id(recs, evs, emb.model_version)
            )

    # ---------------------------------------------------------------- tag
    @app.agent(t_embeddings)
    async def tag(stream: faust.StreamT) -> None:
        async for events in stream.take_events(settings.batch_size, within=settings.batch_wait_ms / 1000):
            await guarded(events, _tag_batch)

    async def _tag_batch(events: list[faust.EventT]) -> None:
        for ev in events:
            try:
                rec = parse_record(ev.value, EmbeddingRecord)
            except BadRecord as exc:
                await to_dlq(ev, exc.reason)
                continue
            if rec.kind != "live":
                continue
            store = engines().store
            try:
                hits = await store_call(
                    "product search",
                    lambda vec=rec.vector, store=store: store.near_vector("product", vec, limit=settings.tag_top_k),
                )
            except PermanentError as exc:
                await to_dlq(ev, exc.reason)
                continue
            out = stages.tag_record(rec, hits, settings.tag_min_score, time.time())
            await deliver(t_tags, rec.stream_id.encode() if rec.stream_id else None, dump_record(out))

    return app
