"""`tag`: each new live moment → the nearest catalog products on `ampere.tags` (its stream's lineup first)."""

from __future__ import annotations

import json
import logging
import time

from encoders.scoring import SCORING_ID
from streams.errors import PermanentError
from streams.kafka.topics import TopicNames
from streams.ops import metrics
from streams.schemas import (
    EmbeddingRecord,
    TagRecord,
    UnknownLineupProducts,
    dump_record,
)
from streams.worker import claims, stages
from streams.worker.agents.context import AgentContext, Event

MAX_REPORTED_LINEUPS = 10_000
log = logging.getLogger("ampere.worker")
_said: set[str] = set()


def uncalibrated_reason(rule: claims.ClaimRule, engine: str) -> str | None:
    """Why the claim rule does not hold for this worker's engine and scoring rule (None: it holds);
    logged once per process and reason."""
    reason = rule.mismatch(engine=engine, scoring=SCORING_ID)
    say_once(reason)
    return reason


def say_once(reason: str | None) -> None:
    """Log an uncalibrated-rule reason the first time this process meets it."""
    if reason and reason not in _said and len(_said) < 100:
        _said.add(reason)
        log.warning("tags are not claimed: %s", reason)


async def report_unknown_lineup(ctx: AgentContext, tag: TagRecord) -> None:
    """Dead-letter (once per stream and lineup, per process) the lineup ids the catalog does not hold,
    and count them; the tag itself is published with the known ones."""
    if not tag.lineup_unknown:
        return
    seen = (tag.stream_id, tuple(tag.lineup_unknown))
    if seen in ctx.reported_lineups:
        return
    if len(ctx.reported_lineups) >= MAX_REPORTED_LINEUPS:
        ctx.reported_lineups.clear()
    ctx.reported_lineups.add(seen)
    ctx.counters.add("lineup_unknown_products", len(tag.lineup_unknown))
    shown = ", ".join(map(repr, tag.lineup_unknown[:10])) + (" ..." if len(tag.lineup_unknown) > 10 else "")
    whose = f"the catalog of seller {tag.seller_id!r}" if tag.seller_id else "the catalog"
    err = UnknownLineupProducts(f"lineup of stream {tag.stream_id!r} names {len(tag.lineup_unknown)} product id(s) "
                                f"{whose} does not hold: {shown} (publish them on the products topic)")
    value = json.dumps({"stream_id": tag.stream_id, "seller_id": tag.seller_id, "unknown_product_ids": tag.lineup_unknown}).encode()
    events_topic = TopicNames(ctx.settings.topic_prefix).events
    await ctx.dead_letter(events_topic, None, None, tag.stream_id.encode(), value, err)


async def tag_batch(ctx: AgentContext, events: list[Event]) -> None:
    """Search the catalog for every live embedding by the one scoring rule (``encoders.scoring``, through
    ``stages.tag_searches``: its stream's lineup too when it declared one, ``streams.worker.tag_scope``)
    and claim the first product when the calibrated rule is sure (``streams.worker.claims``); a search
    the store refuses goes to the DLQ."""
    settings = ctx.settings
    rule = claims.rule_for(settings.tag_min_score, settings.tag_claim_rule)
    blocked = uncalibrated_reason(rule, settings.encoder_engine)
    tags: list[tuple[bytes | None, bytes]] = []
    for ev, rec in await ctx.parsed(events, EmbeddingRecord):
        if rec.kind != "live":
            continue
        store = ctx.engines.store
        try:
            hits, lineup_hits = await ctx.store_call(
                "product search",
                lambda rec=rec, store=store: stages.tag_searches(store, rec, settings.tag_top_k),
            )
        except PermanentError as exc:
            await ctx.to_dlq(ev, exc)
            continue
        not_for = blocked or rule.mismatch(model_version=rec.model_version)
        say_once(not_for)
        out = stages.tag_record(rec, hits, rule, time.time(), lineup_hits, uncalibrated=not_for)
        await report_unknown_lineup(ctx, out)
        metrics.count_tag(out.claimed, uncalibrated=bool(not_for and hits))
        tags.append((rec.stream_id.encode() if rec.stream_id else None, dump_record(out)))
    await ctx.send_all("tags", tags)  # after the batch's searches: one wait for every acknowledgement
