"""`summarize` (revision 1, or the only phase) and `refine` (revision 2, the LLM summary)."""

from __future__ import annotations

import logging
import time

from engines.summarize.schema import Summary
from streams.ops import metrics
from streams.schemas import BadRecord, WindowRecord, dump_record, parse_record
from streams.worker import stages
from streams.worker.agents.context import AgentContext, Event

log = logging.getLogger("ampere.worker")


async def summarize_batch(ctx: AgentContext, events: list[Event]) -> None:
    """Two phases: the extractive summary of every window at once. One phase: the configured summarizer
    (windows one by one under a lag bound, so the bound is checked before every LLM call)."""
    settings = ctx.settings
    good = [w for _, w in await ctx.parsed(events, WindowRecord)]
    if ctx.two_phase or settings.summary_max_lag_ms <= 0:
        groups = [good] if good else []
    else:
        groups = [[w] for w in good]
    for group in groups:
        elapsed = metrics.timed()
        try:
            if ctx.two_phase:
                summaries = await ctx.engines.fallback.asummarize(stages.summary_requests(group))
            else:
                summaries = await stages.summarize_with_shedding(
                    ctx.engines.summarizer, ctx.engines.fallback, group, time.time(), settings.summary_max_lag_ms / 1000
                )
            metrics.observe_summaries("extractive" if ctx.two_phase else settings.summarizer, elapsed(), summaries)
        except Exception as exc:  # noqa: BLE001 - the engine broke its contract: never drop the windows
            log.warning("summarizer failed (%s); using the extractive summary for %d windows", exc, len(group))
            metrics.count_engine_failure(len(group))
            summaries = await stages.fallback_summaries(ctx.engines.fallback, group, exc)
        count_rejected(ctx, summaries)
        await ctx.send_all("summaries", [(rec.window.stream_id.encode(), dump_record(rec))
                                         for rec in stages.summary_records(group, summaries, time.time(), revision=1)])


async def refine_batch(ctx: AgentContext, events: list[Event]) -> None:
    """Revision 2: the LLM summary of the windows still due, in one call (the CPU engine decodes them
    together); shed (counted) when it waited too long, skipped when the LLM fell back (revision 1
    already holds the extractive summary)."""
    settings = ctx.settings
    due: list[WindowRecord] = []
    for ev in events:
        try:
            w = parse_record(ev.value, WindowRecord)
        except BadRecord:
            continue  # `summarize` dead-letters it
        if not stages.refinement_due(w, time.time(), settings.refine_max_lag_ms / 1000):
            ctx.counters.add("refine_shed")
            log.info("refinement of %s shed: waited %.1fs", w.window_id, time.time() - w.closed_at)
            continue
        due.append(w)
    if not due:
        return
    elapsed = metrics.timed()
    summaries = await ctx.engines.summarizer.asummarize(stages.summary_requests(due))
    metrics.observe_summaries(settings.summarizer, elapsed(), summaries)
    count_rejected(ctx, summaries)
    for w, summary in zip(due, summaries, strict=True):
        if summary.is_fallback:
            ctx.counters.add("refine_fallback")
            log.info("refinement of %s skipped: %s", w.window_id, summary.fallback_reason)
            continue
        for rec in stages.summary_records([w], [summary], time.time(), revision=2):
            await ctx.send("summaries", rec.window.stream_id.encode(), dump_record(rec))


def count_rejected(ctx: AgentContext, summaries: list[Summary]) -> None:
    """Count the fact fields the gate blanked for being of the wrong kind."""
    n = sum(len(s.rejected_fields) for s in summaries)
    if n:
        ctx.counters.add("field_kind_rejected", n)
