"""`segment`: each window tag → its product segment, revised, in the store and on `ampere.segments`.

A batch reads the stored state of the segments its tags belong to (one query), folds the tags in
(``streams.worker.segments``), writes the segments that changed (same id, next revision) and then
publishes them. Nothing is kept between batches, so a partition that moves to another worker, or a
restart, continues from what the store holds; a replayed tag changes nothing.
"""

from __future__ import annotations

import json
import time

from engines.store.weaviate_store import StoredObject
from streams.errors import PermanentError
from streams.schemas import SegmentRecord, TagRecord, dump_record
from streams.worker import claims, segments
from streams.worker.agents.context import AgentContext, Event
from streams.worker.agents.tag import uncalibrated_reason
from streams.worker.segments import SegmentState


def restored(seg_id: str, tag: TagRecord, stored: dict | None) -> SegmentState:
    """A segment's state as the store holds it (a new one when it holds none)."""
    if not stored:
        return SegmentState(seg_id, tag.stream_id, tag.segment_start_ms, seller_id=tag.seller_id)
    state = SegmentState.from_evidence(
        seg_id, tag.stream_id, tag.segment_start_ms, stored.get("product_hint") or None,
        json.loads(stored.get("evidence_json") or "[]"), int(stored.get("revision") or 0),
    )
    state.seller_id = tag.seller_id
    return state


def segment_record(state: SegmentState, verdict: segments.Verdict, now: float, closed_at: float) -> SegmentRecord:
    return SegmentRecord(
        segment_id=state.segment_id, stream_id=state.stream_id, seller_id=state.seller_id, segment_start_ms=state.segment_start_ms,
        start_ms=state.start_ms, end_ms=state.end_ms, product_id=verdict.product_id, title=verdict.title,
        score=verdict.score, claimed=verdict.claimed, reason=verdict.reason, basis=verdict.basis,  # type: ignore[arg-type]
        windows=len(state.windows), product_hint=state.product_hint, revision=state.revision,
        closed_at=closed_at, updated_at=now,
    )


def stored_object(rec: SegmentRecord, state: SegmentState) -> StoredObject:
    props = rec.model_dump(exclude={"segment_start_ms"}) | {
        "segment_start_ms": rec.segment_start_ms if rec.segment_start_ms is not None else 0,
        "product_id": rec.product_id or "", "seller_id": rec.seller_id or "", "reason": rec.reason or "", "product_hint": rec.product_hint or "",
        "evidence_json": json.dumps(state.evidence_json(), separators=(",", ":")),
    }
    return StoredObject(kind="segment", object_id=rec.segment_id, properties=props)


async def segment_batch(ctx: AgentContext, events: list[Event]) -> None:
    """Fold a batch of window tags into their segments; write and publish every segment that changed."""
    settings = ctx.settings
    rule = claims.rule_for(settings.tag_min_score, settings.tag_claim_rule)
    blocked = uncalibrated_reason(rule, settings.encoder_engine)
    tags = [(ev, tag) for ev, tag in await ctx.parsed(events, TagRecord) if tag.stream_id]
    if not tags:
        return
    store = ctx.engines.store
    ids = list(dict.fromkeys(segments.segment_id(t.stream_id, t.segment_start_ms) for _, t in tags))
    try:
        stored = await ctx.store_call("segment read", lambda: store.fetch("segment", ids))
    except PermanentError as exc:
        for ev, _ in tags:
            await ctx.to_dlq(ev, exc)
        return
    states: dict[str, SegmentState] = {}
    changed: dict[str, float] = {}  # segment id -> newest tag time
    not_for: dict[str, str] = {}  # segment id -> why its windows' rule does not hold (their reason says)
    for _, tag in tags:
        seg_id = segments.segment_id(tag.stream_id, tag.segment_start_ms)
        if tag.unclaimed_reason and tag.unclaimed_reason.startswith(claims.UNCALIBRATED):
            not_for[seg_id] = tag.unclaimed_reason
        state = states.get(seg_id) or restored(seg_id, tag, stored.get(seg_id))
        states[seg_id] = state
        if state.fold(tag):
            changed[seg_id] = max(changed.get(seg_id, 0.0), tag.tagged_at)
    if not changed:
        return
    now = time.time()
    records, objects = [], []
    for seg_id, closed_at in changed.items():
        state = states[seg_id]
        state.revision += 1
        verdict = segments.decide(state, rule, uncalibrated=blocked or not_for.get(seg_id))
        rec = segment_record(state, verdict, now, max(closed_at, float((stored.get(seg_id) or {}).get("closed_at") or 0)))
        records.append(rec)
        objects.append(stored_object(rec, state))
    try:
        await ctx.store_call("segment write", lambda: store.upsert(objects))
    except PermanentError as exc:
        for ev, tag in tags:
            if segments.segment_id(tag.stream_id, tag.segment_start_ms) in changed:
                await ctx.to_dlq(ev, exc)
        return
    ctx.counters.add("segments_revised", len(records))
    await ctx.send_all("segments", [(r.stream_id.encode(), dump_record(r)) for r in records])
