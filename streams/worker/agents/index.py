"""`embed` (summarized windows) and `catalog` (products): encode, upsert by deterministic id, publish."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from streams.errors import PermanentError
from streams.schemas import (
    EncodeFailed,
    ProductRecordMsg,
    SummaryRecordMsg,
    dump_record,
    parse_record,
)
from streams.worker import stages
from streams.worker.agents.context import AgentContext, Event
from streams.worker.image_source import uri_policy

log = logging.getLogger("ampere.worker")


async def items_or_dlq(
    ctx: AgentContext, events: Sequence[Event], parse: Callable[[bytes], Any], to_item: Callable[[Any], Any]
) -> tuple[list, list, list]:
    """Parse each event and build its encoder input; failures go to the DLQ one by one."""
    recs, items, evs = [], [], []
    for ev in events:
        try:
            rec = parse(ev.value)
            item = await asyncio.to_thread(to_item, rec)
        except Exception as exc:  # noqa: BLE001 - a bad record or a bug: dead-lettered with its class
            await ctx.to_dlq(ev, exc)
            continue
        recs.append(rec)
        items.append(item)
        evs.append(ev)
    return recs, items, evs


async def encode_or_dlq(ctx: AgentContext, recs: list, items: list, evs: list) -> tuple[list, Any, list]:
    """Encode a batch; if the batch fails, encode item by item and dead-letter the ones that fail."""
    encoder = ctx.engines.encoder
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
            await ctx.to_dlq(ev, EncodeFailed(f"cannot encode: {type(exc).__name__}: {str(exc)[:500]}"))
    return kept, stages.concat_embeddings(parts) if parts else None, kept_evs


async def index_and_publish(ctx: AgentContext, batch: stages.IndexedBatch, events_by_oid: dict[str, Event]) -> None:
    """Upsert a batch (never an older revision over a newer one); objects the store refuses while up go
    to the DLQ one by one, the rest are published once stored."""
    store = ctx.engines.store
    t_store = time.time()
    if any(r.kind != "product" for r in batch.records):
        stored = await ctx.store_call("revision lookup", lambda: stages.stored_revisions(store, batch))
        batch, stale = stages.drop_stale(batch, stored)
        ctx.counters.add("stale_skipped", stale)
        if not batch.objects:
            return
    try:
        await ctx.store_call("store upsert", lambda: store.upsert(batch.objects))
        kept = batch.records
    except PermanentError as exc:
        if len(batch.objects) == 1:
            await ctx.to_dlq(events_by_oid[batch.objects[0].object_id], exc)
            return
        log.warning("batch upsert refused (%s); upserting one by one", exc.reason[:300])
        kept = []
        for obj, rec in zip(batch.objects, batch.records):
            try:
                await ctx.store_call("store upsert", lambda obj=obj: store.upsert([obj]))
                kept.append(rec)
            except PermanentError as one:
                await ctx.to_dlq(events_by_oid[obj.object_id], one)
    now = time.time()
    await ctx.send_all("embeddings", [((rec.stream_id or rec.product_id or "").encode(), dump_record(rec))
                                      for rec in stages.stamp_indexed(kept, now, store_s=now - t_store)])


async def embed_batch(ctx: AgentContext, events: list[Event]) -> None:
    """Summarized windows → moments in LiveMoment / VideoMoment and on the embeddings topic."""
    await embed_store(ctx, await embed_prepare(ctx, events))


async def embed_store(ctx: AgentContext, prepared: tuple[stages.IndexedBatch, dict[str, Event]] | None) -> None:
    """The second step of ``embed_batch``: upsert and publish an encoded batch (None: nothing to store)."""
    if prepared is not None:
        await index_and_publish(ctx, *prepared)


async def embed_prepare(ctx: AgentContext, events: list[Event]) -> tuple[stages.IndexedBatch, dict[str, Event]] | None:
    """The first step of ``embed_batch``: parse, build the encoder inputs, encode (None: nothing left)."""
    text, refined = ctx.settings.extractive_text, ctx.settings.refined_text
    t_batch = time.time()
    recs, items, evs = await items_or_dlq(
        ctx, events, lambda raw: parse_record(raw, SummaryRecordMsg),
        lambda r: stages.moment_item(r, r.window.domain, text, refined),
    )
    if not recs:
        return None
    t0 = time.time()
    recs, emb, evs = await encode_or_dlq(ctx, recs, items, evs)
    if not recs:
        return None
    batch = stages.moment_batches(recs, emb, {"prepare": t0 - t_batch, "encode": time.time() - t0}, started_at=t_batch)
    return batch, stages.events_by_object_id(recs, evs, emb.model_version)


async def catalog_batch(ctx: AgentContext, events: list[Event]) -> None:
    """Catalog products → Product objects and the embeddings topic."""
    settings = ctx.settings
    recs, items, evs = await items_or_dlq(
        ctx,
        events,
        lambda raw: parse_record(raw, ProductRecordMsg, max_bytes=settings.max_message_bytes),
        lambda r: stages.product_item(r, uri_policy(settings), settings.max_image_pixels, settings.max_batch_pixels),
    )
    if not recs:
        return
    recs, emb, evs = await encode_or_dlq(ctx, recs, items, evs)
    if recs:
        await index_and_publish(ctx, stages.product_objects(recs, emb), stages.events_by_object_id(recs, evs, emb.model_version))
