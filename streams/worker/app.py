"""The Faust app: thin agents that parse, call the stage functions, and forward bytes.

    asr.chunks ─┐  (aiokafka, explicit commits)
    keyframes  ─┼─▶ window ─▶ windows ─▶ summarize ─▶ summaries ─▶ embed+index ─▶ embeddings ─▶ tag ─▶ tags
    stream.events┘                                                                   ▲
    products ─────────────────────────────────────────────▶ catalog (embed+index) ──┘
    anything malformed ─▶ dlq

Offsets are committed only after a batch's body finished: the agents' streams ack an event only once
its batch was marked finished (``streams.worker.agents.acks``), never when the agent is cancelled mid-batch
on stop, and the bodies only finish after the store accepted the upsert and the outputs were delivered.
The window stage is stateful and runs on its own aiokafka consumer with explicit commits, since
faust-streaming's consumer can commit past records it never delivered (``streams.worker.window_stage``).
"""

from __future__ import annotations

import asyncio
import logging

import faust

from streams.kafka import faust_credentials, kafka_config
from streams.kafka.clients import METADATA_MAX_AGE_MS, faust_transport
from streams.kafka.topics import TopicNames
from streams.ops import metrics, progress
from streams.ops.counters import COUNTERS
from streams.settings import Settings
from streams.worker.agents.acks import FinishedAckStream, run_batches, run_pipelined
from streams.worker.agents.context import AgentContext, Engines
from streams.worker.agents.index import catalog_batch, embed_batch, embed_prepare, embed_store
from streams.worker.agents.segment import segment_batch
from streams.worker.agents.summarize import refine_batch, summarize_batch
from streams.worker.agents.tag import tag_batch
from streams.worker.roles import agents_for, app_id
from streams.worker.window_stage import WindowStage

__all__ = ["Engines", "create_app"]

log = logging.getLogger("ampere.worker")


def create_app(settings: Settings, engines_factory) -> faust.App:
    """The worker app of ``settings.worker_role`` (streams/worker/roles.py); ``engines_factory`` is called once,
    on first use, in the worker."""
    topics = TopicNames(settings.topic_prefix)
    kafka = kafka_config(settings)
    app = faust.App(
        app_id(settings.topic_prefix, settings.worker_role),
        broker=";".join(f"kafka://{addr.strip()}" for addr in kafka.bootstrap.split(",")),
        store="memory://",
        datadir=str(settings.home / "faust" / settings.topic_prefix),
        topic_partitions=settings.topic_partitions,
        broker_credentials=faust_credentials(kafka),
        topic_replication_factor=settings.topic_replication_factor,
        value_serializer="raw",
        key_serializer="raw",
        web_enabled=False,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=1.0,
        broker_session_timeout=settings.kafka_session_timeout_ms / 1000,
        producer_max_request_size=kafka.max_request_bytes,
        consumer_max_fetch_size=kafka.max_request_bytes,
        stream_wait_empty=False,
        Stream=FinishedAckStream,  # acks only finished batches, so a stop commits no unfinished work
        producer_acks=-1,
        consumer_metadata_max_age_ms=METADATA_MAX_AGE_MS,
        producer_metadata_max_age_ms=METADATA_MAX_AGE_MS,
    )
    app.transport = faust_transport(app)  # the agents' producer: idempotent, acks=all

    def raw_topic(*names: str) -> faust.TopicT:
        return app.topic(*names, value_serializer="raw", key_serializer="raw")

    t_products = raw_topic(topics.products)
    t_windows = raw_topic(topics.windows)
    t_summaries = raw_topic(topics.summaries)
    t_embeddings = raw_topic(topics.embeddings)
    outputs = {
        "windows": t_windows, "summaries": t_summaries, "embeddings": t_embeddings,
        "tags": raw_topic(topics.tags), "segments": raw_topic(topics.segments), "dlq": raw_topic(topics.dlq),
    }

    async def send(role: str, key: bytes | None, value: bytes) -> None:
        """Send and wait until the broker acknowledged it."""
        fut = await outputs[role].send(key=key, value=value)
        await fut

    async def send_many(role: str, records) -> None:
        """Queue every record in order (the producer keeps that order per partition), then wait for all
        the acknowledgements together: a batch costs one broker round trip, not one per record."""
        futs = [await outputs[role].send(key=key, value=value) for key, value in records]
        await asyncio.gather(*futs)

    ctx = AgentContext(settings, send, engines_factory, counters=COUNTERS, send_many=send_many)  # one registry
    app.ampere_context = ctx  # type: ignore[attr-defined]
    app.ampere_counters = COUNTERS  # type: ignore[attr-defined]
    run = agents_for(settings.worker_role, ctx.two_phase)
    app.ampere_agents = run  # type: ignore[attr-defined]
    stage = WindowStage(settings) if "window" in run else None
    metrics.install(app, lambda: stage.census if stage else (0, 0), COUNTERS.snapshot)
    size, within_s = settings.batch_size, settings.batch_wait_ms / 1000

    def only(name: str, register):
        """``register`` (an app.task / app.agent decorator) where this role runs ``name``, else nothing."""
        return register if name in run else (lambda fn: fn)

    # ---------------------------------------------------------------- window
    @only("window", app.task)
    async def window() -> None:
        """The stateful window stage runs on its own consumer with explicit commits (streams/worker/window_stage.py)."""
        assert stage is not None
        try:
            await stage.run()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - fail loudly: stop the worker rather than run without it
            log.critical("window stage stopped: %s: %s", type(exc).__name__, exc)
            progress.stopped(f"{type(exc).__name__}: {exc}")
            await app.crash(exc)

    # ---------------------------------------------------------------- the other agents
    @only("summarize", app.agent(t_windows))
    async def summarize(stream: faust.StreamT) -> None:
        await run_batches(stream, size, within_s, lambda events: ctx.guarded(events, summarize_batch))

    @only("refine", app.agent(t_windows))
    async def refine(stream: faust.StreamT) -> None:
        await run_batches(stream, size, within_s, lambda events: ctx.guarded(events, refine_batch, dead_letter=False))

    @only("embed", app.agent(t_summaries))
    async def embed(stream: faust.StreamT) -> None:
        if not settings.embed_pipeline:
            await run_batches(stream, size, within_s, lambda events: ctx.guarded(events, embed_batch))
            return
        await run_pipelined(
            stream, size, within_s, lambda events: ctx.guarded(events, embed_prepare),
            lambda events, prepared: ctx.guarded(events, lambda c, _: embed_store(c, prepared)),
        )

    @only("catalog", app.agent(t_products))
    async def catalog(stream: faust.StreamT) -> None:
        await run_batches(stream, size, within_s, lambda events: ctx.guarded(events, catalog_batch))

    @only("tag", app.agent(t_embeddings))
    async def tag(stream: faust.StreamT) -> None:
        await run_batches(stream, size, within_s, lambda events: ctx.guarded(events, tag_batch))

    @only("segment", app.agent(raw_topic(topics.tags)))
    async def segment(stream: faust.StreamT) -> None:
        await run_batches(stream, size, within_s, lambda events: ctx.guarded(events, segment_batch))

    return app
