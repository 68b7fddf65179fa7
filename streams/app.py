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

import faust

from streams import metrics, stages
from streams.agents.context import AgentContext, Engines, unexpected
from streams.agents.index import catalog_batch, embed_batch
from streams.agents.summarize import refine_batch, summarize_batch
from streams.agents.tag import tag_batch
from streams.ingest import apply_message, window_config
from streams.kafka_conn import faust_credentials, producer_max_request_size
from streams.schemas import BadRecord, StreamEventRecord, dump_record
from streams.settings import Settings
from streams.topics import TopicNames
from streams.windowing import StreamState

__all__ = ["Engines", "create_app"]

log = logging.getLogger("ampere.worker")


def create_app(settings: Settings, engines_factory) -> faust.App:
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

    def raw_topic(*names: str) -> faust.TopicT:
        return app.topic(*names, value_serializer="raw", key_serializer="raw")

    t_in = raw_topic(topics.asr, topics.keyframes, topics.events)
    t_events = raw_topic(topics.events)
    t_products = raw_topic(topics.products)
    t_windows = raw_topic(topics.windows)
    t_summaries = raw_topic(topics.summaries)
    t_embeddings = raw_topic(topics.embeddings)
    outputs = {
        "windows": t_windows, "summaries": t_summaries, "embeddings": t_embeddings,
        "tags": raw_topic(topics.tags), "dlq": raw_topic(topics.dlq),
    }
    state = app.Table("stream-state", default=None, key_type=str, value_type=bytes)

    async def send(role: str, key: bytes | None, value: bytes) -> None:
        """Send and wait until the broker acknowledged it."""
        fut = await outputs[role].send(key=key, value=value)
        await fut

    ctx = AgentContext(settings, send, engines_factory)
    app.ampere_context = ctx  # type: ignore[attr-defined]
    app.ampere_counters = ctx.counters  # type: ignore[attr-defined]
    metrics.install(app, state, ctx.counters)
    batches = {"within": settings.batch_wait_ms / 1000}

    # ---------------------------------------------------------------- window
    @app.agent(t_in)
    async def window(stream: faust.StreamT) -> None:
        async for event in stream.events():
            try:
                await _window_one(event)
            except Exception as exc:  # noqa: BLE001 - a poison message must never stop the agent
                await ctx.to_dlq(event, unexpected(exc))

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
            await ctx.to_dlq(event, exc.reason)
            return
        if applied.late:
            await ctx.to_dlq(event, applied.late)
        now = time.time()
        metrics.count_closed(applied.closed)
        for cw in applied.closed:
            await send("windows", cw.stream_id.encode(), dump_record(stages.window_record(cw, now)))
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

    # ---------------------------------------------------------------- the other agents
    @app.agent(t_windows)
    async def summarize(stream: faust.StreamT) -> None:
        async for events in stream.take_events(settings.batch_size, **batches):
            await ctx.guarded(events, summarize_batch)

    if ctx.two_phase:

        @app.agent(t_windows)
        async def refine(stream: faust.StreamT) -> None:
            async for events in stream.take_events(settings.batch_size, **batches):
                await ctx.guarded(events, refine_batch, dead_letter=False)

    @app.agent(t_summaries)
    async def embed(stream: faust.StreamT) -> None:
        async for events in stream.take_events(settings.batch_size, **batches):
            await ctx.guarded(events, embed_batch)

    @app.agent(t_products)
    async def catalog(stream: faust.StreamT) -> None:
        async for events in stream.take_events(settings.batch_size, **batches):
            await ctx.guarded(events, catalog_batch)

    @app.agent(t_embeddings)
    async def tag(stream: faust.StreamT) -> None:
        async for events in stream.take_events(settings.batch_size, **batches):
            await ctx.guarded(events, tag_batch)

    return app
