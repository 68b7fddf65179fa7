"""`tag`: each new live moment → the nearest catalog products on `ampere.tags`."""

from __future__ import annotations

import time

from streams.errors import PermanentError
from streams.ops import metrics
from streams.schemas import BadRecord, EmbeddingRecord, dump_record, parse_record
from streams.worker import claims, stages
from streams.worker.agents.context import AgentContext, Event


async def tag_batch(ctx: AgentContext, events: list[Event]) -> None:
    """Search the catalog for every live embedding by the one scoring rule (``encoders.scoring``, through
    ``stages.search_products``) and claim the first product when the calibrated rule is sure
    (``streams.worker.claims``); a search the store refuses goes to the DLQ."""
    settings = ctx.settings
    rule = claims.rule_for(settings.tag_min_score)
    tags: list[tuple[bytes | None, bytes]] = []
    for ev in events:
        try:
            rec = parse_record(ev.value, EmbeddingRecord)
        except BadRecord as exc:
            await ctx.to_dlq(ev, exc)
            continue
        if rec.kind != "live":
            continue
        store = ctx.engines.store
        try:
            hits = await ctx.store_call(
                "product search",
                lambda rec=rec, store=store: stages.search_products(store, rec, settings.tag_top_k),
            )
        except PermanentError as exc:
            await ctx.to_dlq(ev, exc)
            continue
        out = stages.tag_record(rec, hits, rule, time.time())
        metrics.count_tag(out.claimed)
        tags.append((rec.stream_id.encode() if rec.stream_id else None, dump_record(out)))
    await ctx.send_all("tags", tags)  # after the batch's searches: one wait for every acknowledgement
