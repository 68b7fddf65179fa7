"""The work of each pipeline stage as plain functions; the Faust agents only move bytes around them."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from encoders.attributes import attribute_values, said, terms
from encoders.dataset import ProductRecord
from encoders.scoring import RERANK_DEPTH, search_targets, with_attributes
from engines.encode.base import Embeddings, EncodeItem
from engines.store.weaviate_store import Filter, Hit, StoredObject, WeaviateStore
from engines.summarize.base import Summarizer
from engines.summarize.schema import Summary, SummaryRequest
from streams.ids import moment_object_id, product_object_id
from streams.keyframes import DEFAULT_MAX_BATCH_PIXELS, decode_image, decode_images
from streams.schemas import (
    BadRecord,
    DeadLetter,
    EmbeddingRecord,
    NothingToIndex,
    ProductRecordMsg,
    SummaryRecordMsg,
    TagRecord,
    WindowRecord,
)
from streams.worker.claims import ClaimRule, features_of
from streams.worker.image_source import UriPolicy, load_image_bytes
from streams.worker.revision_text import RefinedText, refined_text
from streams.worker.tag_scope import choose_scope
from streams.worker.windowing import ClosedWindow

NOTHING_TO_INDEX = "nothing to index: the window has no keyframes and its summary found no product"


def product_text(title: str, brand: str = "", attributes: dict[str, str] | None = None) -> str:
    """The text a catalog product shows the text branch (the same as in training)."""
    return ProductRecord(product_id="", title=title, brand=brand, attributes=dict(attributes or {})).text


DLQ_KEY_BYTES = 1024
DLQ_REASON_CHARS = 2000


def dead_letter(
    topic: str,
    partition: int | None,
    offset: int | None,
    key: bytes | None,
    value: bytes | None,
    reason: str,
    *,
    max_value_bytes: int = 256 * 1024,
) -> DeadLetter:
    """A DLQ record keeping where the message came from, why it failed, and its first
    ``max_value_bytes`` bytes (0 = reason only) with the size and SHA-256 of the whole value."""
    value = value or b""
    kept = value[: max(0, max_value_bytes)]
    return DeadLetter(
        topic=topic,
        partition=partition,
        offset=offset,
        key_b64=base64.b64encode(key[:DLQ_KEY_BYTES]).decode() if key else None,
        value_b64=base64.b64encode(kept).decode(),
        reason=reason.encode("utf-8", "replace").decode("utf-8")[:DLQ_REASON_CHARS],
        failed_at=time.time(),
        value_size=len(value),
        value_sha256=hashlib.sha256(value).hexdigest(),
        value_truncated=len(kept) < len(value),
    )


def window_record(cw: ClosedWindow, closed_at: float) -> WindowRecord:
    """The internal message of a closed window."""
    return WindowRecord(
        window_id=cw.window_id,
        stream_id=cw.stream_id,
        start_ms=cw.start_ms,
        end_ms=cw.end_ms,
        text=cw.text,
        lang=cw.lang,
        keyframes_b64=[k.jpeg_b64 for k in cw.keyframes],
        close_reason=cw.reason,
        closed_at=closed_at,
        product_hint=cw.product_hint,
        domain=cw.domain,  # type: ignore[arg-type]
        lineup=cw.lineup,
        segment_start_ms=cw.segment_start_ms,
        seller_id=cw.seller_id,
    )


def summary_requests(windows: Sequence[WindowRecord]) -> list[SummaryRequest]:
    """What the summarizer sees of each window."""
    return [SummaryRequest(window_id=w.window_id, text=w.text, lang=w.lang) for w in windows]


async def summarize_with_shedding(
    llm: Summarizer, fallback: Summarizer, windows: Sequence[WindowRecord], now: float, max_lag_s: float
) -> list[Summary]:
    """Summarize a batch; when ``max_lag_s`` > 0, windows that already waited longer than that since
    they closed get the fallback summary (marked with why), so a backlog cannot grow without bound."""
    late = [max_lag_s > 0 and now - w.closed_at > max_lag_s for w in windows]
    fresh = [w for w, is_late in zip(windows, late) if not is_late]
    behind = [w for w, is_late in zip(windows, late) if is_late]
    out_fresh = await llm.asummarize(summary_requests(fresh)) if fresh else []
    out_behind = await fallback.asummarize(summary_requests(behind)) if behind else []
    shed = [
        s.model_copy(update={"fallback_reason": s.fallback_reason or f"shed: waited {now - w.closed_at:.1f}s > {max_lag_s:g}s",
                             "fallback_class": s.fallback_class or "shed"})
        for s, w in zip(out_behind, behind)
    ]
    it_fresh, it_shed = iter(out_fresh), iter(shed)
    return [next(it_shed) if is_late else next(it_fresh) for is_late in late]


async def fallback_summaries(fallback: Summarizer, windows: Sequence[WindowRecord], error: BaseException) -> list[Summary]:
    """Fallback summaries of windows whose summarizer raised, each marked with why."""
    reason = f"summarizer error: {type(error).__name__}: {str(error)[:300]}"
    out = await fallback.asummarize(summary_requests(windows))
    return [s.model_copy(update={"fallback_reason": s.fallback_reason or reason,
                                 "fallback_class": s.fallback_class or "engine_raised"}) for s in out]


def events_by_object_id(recs: Sequence, events: Sequence, model_version: str) -> dict:
    """Map each store object id of encoded records (windows or products) to the event it came from."""
    out = {}
    for rec, ev in zip(recs, events):
        if isinstance(rec, SummaryRecordMsg):
            w = rec.window
            out[moment_object_id(w.domain, w.stream_id, w.start_ms, w.end_ms, model_version)] = ev
        else:
            out[product_object_id(rec.product_id, model_version)] = ev
    return out


def summary_records(
    windows: Sequence[WindowRecord], summaries: Sequence[Summary], now: float, revision: int = 1
) -> list[SummaryRecordMsg]:
    """Pair each window with its summary (same order)."""
    if len(windows) != len(summaries):
        raise ValueError(f"summarizer returned {len(summaries)} summaries for {len(windows)} windows")
    return [
        SummaryRecordMsg(window=w, summary=s.model_dump(mode="json"), summarized_at=now, revision=revision)
        for w, s in zip(windows, summaries)
    ]


def refinement_due(w: WindowRecord, now: float, max_lag_s: float) -> bool:
    """False when a window waited so long for the LLM that its refinement is shed (0 = never shed)."""
    return max_lag_s <= 0 or now - w.closed_at <= max_lag_s


def stored_revisions(store, batch: IndexedBatch) -> dict[str, int]:
    """Revisions the store holds for the moments of a batch."""
    out: dict[str, int] = {}
    for kind in ("live", "video"):
        ids = [o.object_id for o in batch.objects if o.kind == kind]
        out.update(store.revisions(kind, ids))
    return out


def drop_stale(batch: IndexedBatch, stored: dict[str, int]) -> tuple[IndexedBatch, int]:
    """Leave out objects whose stored revision is newer than the one at hand (a replayed provisional
    version never overwrites a refined one); equal revisions overwrite (idempotent replay). Within the
    batch, only the highest revision of an object is kept (the last of equals)."""
    best: dict[str, int] = {}
    for i, r in enumerate(batch.records):
        j = best.get(r.object_id)
        if j is None or batch.records[j].revision <= r.revision:
            best[r.object_id] = i
    keep = sorted(i for oid, i in best.items() if stored.get(oid, 0) <= batch.records[i].revision)
    kept = IndexedBatch([batch.objects[i] for i in keep], [batch.records[i] for i in keep])
    return kept, len(batch.records) - len(keep)


EXTRACTIVE_SOURCES = ("extractive", "empty")


def moment_text(rec: SummaryRecordMsg, extractive_text: str = "transcript",
                refined: RefinedText = "transcript") -> str | None:
    """What a summarized window's text branch encodes: for an LLM summary (revision 2) the text
    ``refined`` names (``streams.worker.revision_text``: by default the transcript, as revision 1); for an
    extractive summary (revision 1, a fallback) the window's transcript when ``extractive_text="transcript"``
    (on the simulation raw speech retrieves far better than the extractive sentence), else its sentence."""
    summary = Summary.model_validate(rec.summary)
    if summary.source not in EXTRACTIVE_SOURCES:
        return refined_text(rec.window.text, summary, refined)
    if extractive_text == "transcript":
        return rec.window.text.strip() or None
    return None if summary.is_empty else summary.sentence


def moment_item(rec: SummaryRecordMsg, domain: str = "live", extractive_text: str = "transcript",
                refined: RefinedText = "transcript") -> EncodeItem:
    """Encoder input of a summarized window: its keyframes and its text (:func:`moment_text`)."""
    images = [decode_image(base64.b64decode(b)) for b in rec.window.keyframes_b64]
    text = moment_text(rec, extractive_text, refined)
    if not images and not text:
        raise NothingToIndex(NOTHING_TO_INDEX)
    return EncodeItem(domain=domain, images=images, text=text)  # type: ignore[arg-type]


#: Short side product photos are decoded down to: twice the encoder's resize side, so its own resize
#: still sees full detail while a large photo never stays in memory at full size.
PRODUCT_IMAGE_SIDE = 512


def product_item(
    rec: ProductRecordMsg,
    policy: UriPolicy,
    max_pixels: int,
    max_total_pixels: int = DEFAULT_MAX_BATCH_PIXELS,
    prefetched: Mapping[str, bytes | BadRecord] | None = None,
) -> EncodeItem:
    """Encoder input of a catalog product: its photos (all together within ``max_total_pixels``,
    checked from their headers before any is decoded) and its text."""
    raws = [load_image_bytes(b, None, policy) for b in rec.images_b64]
    raws += [load_image_bytes(None, u, policy, prefetched) for u in rec.image_uris]
    return EncodeItem(
        domain="product",
        images=decode_images(raws, max_pixels, max_total_pixels, PRODUCT_IMAGE_SIDE),
        text=product_text(rec.title, rec.brand, rec.attributes),
    )


def concat_embeddings(parts: Sequence[Embeddings]) -> Embeddings:
    """Join per-item encoder outputs back into one batch."""
    return Embeddings(
        fused=np.concatenate([p.fused for p in parts]),
        visual=np.concatenate([p.visual for p in parts]),
        text=np.concatenate([p.text for p in parts]),
        visual_mask=np.concatenate([p.visual_mask for p in parts]),
        text_mask=np.concatenate([p.text_mask for p in parts]),
        model_version=parts[0].model_version,
    )


def _row(emb: np.ndarray, mask: np.ndarray, i: int) -> list[float] | None:
    return [float(x) for x in emb[i]] if bool(mask[i]) else None


def _vectors(emb: Embeddings, i: int) -> dict[str, list[float] | None]:
    """Named vectors of row ``i``; a masked branch is None (left out of the store)."""
    return {
        "fused": [float(x) for x in emb.fused[i]],
        "visual": _row(emb.visual, emb.visual_mask, i),
        "text": _row(emb.text, emb.text_mask, i),
    }


def _branches(vectors: dict[str, list[float] | None]) -> dict[str, list[float]]:
    return {k: v for k, v in vectors.items() if k != "fused" and v is not None}


def product_query(rec: EmbeddingRecord) -> dict[str, list[float]]:
    """``{named vector: query vector}`` to find catalog products for an embedded moment, by the one
    rule of ``encoders.scoring``: the mean cosine over the branches it has (fused when it has none)."""
    targets = search_targets("visual" in rec.branches, "text" in rec.branches)
    return {t: rec.vector if t == "fused" else rec.branches[t] for t in targets}


MAX_SPOKEN_TERMS = 2000


def spoken_terms(transcript: str) -> list[str]:
    """The distinct terms of a window's transcript (``encoders.attributes``), sorted, capped."""
    return sorted(set(terms(transcript)))[:MAX_SPOKEN_TERMS]


def search_index(store: WeaviateStore, kind: str, vectors: dict[str, Sequence[float]], spoken: Sequence[str],
                 limit: int, where: Filter | None = None) -> list[Hit]:
    """The one search of the tag agent, ``ampere search`` and the dashboard (``encoders.scoring``):
    nearest objects by the mean cosine over the named ``vectors``, the best ``RERANK_DEPTH`` re-ranked
    by the attribute values the ``spoken`` terms say; ``where`` narrows the objects searched."""
    hits = store.near_vectors(kind, vectors, limit=max(limit, RERANK_DEPTH), where=where)
    return rerank_by_attributes(hits, spoken)[:limit]


def query_vectors(emb: Embeddings, row: int = 0) -> dict[str, list[float]]:
    """``{named vector: vector}`` of one encoded query against full items (:func:`search_targets`)."""
    targets = search_targets(bool(emb.visual_mask[row]), bool(emb.text_mask[row]))
    return {t: [float(x) for x in getattr(emb, t)[row]] for t in targets}


def seller_filter(seller_id: str | None) -> Filter | None:
    """Only the products (or moments) of ``seller_id``; None (no filter) for a stream without a seller."""
    return Filter.by_property("seller_id").equal(seller_id) if seller_id else None


def search_products(store: WeaviateStore, rec: EmbeddingRecord, limit: int, only: Sequence[str] | None = None) -> list[Hit]:
    """Catalog products nearest to an embedded moment (see :func:`product_query`, :func:`search_index`):
    only its seller's when it has one, and among the product ids ``only`` when given."""
    where = seller_filter(rec.seller_id)
    if only:
        ids = Filter.by_property("product_id").contains_any(list(only))
        where = ids if where is None else where & ids
    return search_index(store, "product", product_query(rec), rec.spoken_terms, limit, where)


def rerank_by_attributes(hits: Sequence[Hit], spoken_terms: Sequence[str]) -> list[Hit]:
    """``hits`` (best first, the vector rule's scores) with ``ATTRIBUTE_BONUS`` per attribute value of
    each product that ``spoken_terms`` say, re-sorted (stable: ties keep the vector order)."""
    if not hits:
        return []
    spoken = set(spoken_terms)
    said_counts = np.asarray([[said(h.properties.get("attribute_values") or [], spoken) for h in hits]])
    scores = with_attributes(np.asarray([[h.score for h in hits]]), said_counts, depth=len(hits))[0]
    order = sorted(range(len(hits)), key=lambda i: -scores[i])
    return [Hit(hits[i].object_id, float(scores[i]), hits[i].properties) for i in order]


@dataclass
class IndexedBatch:
    """Objects for the store and the records to publish once they are stored."""

    objects: list[StoredObject]
    records: list[EmbeddingRecord]


def moment_objects(recs: Sequence[SummaryRecordMsg], emb: Embeddings, kind: str, timings: dict[str, float],
                   started_at: float | None = None) -> IndexedBatch:
    """Store objects + embedding records of encoded windows (ids: uuid5 of stream, window, model). The
    record's timings: close → summarized ("summarize"), summarized → its batch taken up ("queue", when
    ``started_at`` is given) and the batch's own stages."""
    objects, records = [], []
    for i, rec in enumerate(recs):
        w = rec.window
        oid = moment_object_id(kind, w.stream_id, w.start_ms, w.end_ms, emb.model_version)
        summary = Summary.model_validate(rec.summary)
        objects.append(
            StoredObject(
                kind=kind,
                object_id=oid,
                properties={
                    "stream_id": w.stream_id,
                    "seller_id": w.seller_id or "",
                    "window_id": w.window_id,
                    "start_ms": w.start_ms,
                    "end_ms": w.end_ms,
                    "sentence": summary.sentence,
                    "product_name": summary.product_name or "",
                    "summary_json": json.dumps(rec.summary, ensure_ascii=False),
                    "summary_source": summary.source,
                    "model_version": emb.model_version,
                    "closed_at": w.closed_at,
                    "revision": rec.revision,
                },
                vectors=_vectors(emb, i),
            )
        )
        records.append(
            EmbeddingRecord(
                object_id=oid,
                kind=kind,  # type: ignore[arg-type]
                stream_id=w.stream_id,
                window=(w.start_ms, w.end_ms),
                model_version=emb.model_version,
                vector=[float(x) for x in emb.fused[i]],
                summary=rec.summary,
                closed_at=w.closed_at,
                indexed_at=0.0,
                timings={**timings, "summarize": max(0.0, rec.summarized_at - w.closed_at),
                         **({"queue": max(0.0, started_at - rec.summarized_at)} if started_at is not None else {})},
                revision=rec.revision,
                summary_source=summary.source,
                branches=_branches(objects[-1].vectors),
                spoken_terms=spoken_terms(w.text),
                lineup=w.lineup,
                segment_start_ms=w.segment_start_ms,
                product_hint=w.product_hint,
                seller_id=w.seller_id,
            )
        )
    return IndexedBatch(objects, records)


def moment_batches(recs: Sequence[SummaryRecordMsg], emb: Embeddings, timings: dict[str, float],
                   started_at: float | None = None) -> IndexedBatch:
    """Like ``moment_objects`` for a batch mixing live and short-video windows (kind = window domain)."""
    out = IndexedBatch([], [])
    for kind in ("live", "video"):
        rows = [i for i, r in enumerate(recs) if r.window.domain == kind]
        if rows:
            part = moment_objects([recs[i] for i in rows], _take(emb, rows), kind, timings, started_at)
            out.objects += part.objects
            out.records += part.records
    return out


def _take(emb: Embeddings, rows: list[int]) -> Embeddings:
    return Embeddings(
        emb.fused[rows], emb.visual[rows], emb.text[rows], emb.visual_mask[rows], emb.text_mask[rows], emb.model_version
    )


def product_objects(recs: Sequence[ProductRecordMsg], emb: Embeddings) -> IndexedBatch:
    """Store objects + embedding records of encoded catalog products."""
    objects, records = [], []
    for i, p in enumerate(recs):
        oid = product_object_id(p.product_id, emb.model_version)
        objects.append(
            StoredObject(
                kind="product",
                object_id=oid,
                properties={
                    "product_id": p.product_id,
                    "seller_id": p.seller_id or "",
                    "title": p.title,
                    "category": p.category,
                    "brand": p.brand,
                    "attribute_values": attribute_values(p.attributes),
                    "model_version": emb.model_version,
                },
                vectors=_vectors(emb, i),
            )
        )
        records.append(
            EmbeddingRecord(
                object_id=oid,
                kind="product",
                product_id=p.product_id,
                model_version=emb.model_version,
                vector=[float(x) for x in emb.fused[i]],
                indexed_at=0.0,
                branches=_branches(objects[-1].vectors),
            )
        )
    return IndexedBatch(objects, records)


def stamp_indexed(records: Sequence[EmbeddingRecord], now: float, store_s: float | None = None) -> list[EmbeddingRecord]:
    """Set the time the records became queryable (and the seconds the store calls took, when given)."""
    if store_s is None:
        return [r.model_copy(update={"indexed_at": now}) for r in records]
    return [r.model_copy(update={"indexed_at": now, "timings": {**r.timings, "store": store_s}}) for r in records]


def tag_searches(store: WeaviateStore, rec: EmbeddingRecord, limit: int) -> tuple[list[Hit], list[Hit] | None]:
    """The catalog's ``limit`` nearest products of a live window and, when its stream declared a lineup,
    every lineup product the catalog holds, best first (None without a lineup)."""
    catalog = search_products(store, rec, limit)
    if not rec.lineup:
        return catalog, None
    return catalog, search_products(store, rec, len(rec.lineup), only=rec.lineup)


def tag_record(rec: EmbeddingRecord, hits: Sequence[Hit], rule: ClaimRule, now: float,
               lineup_hits: Sequence[Hit] | None = None, uncalibrated: str | None = None) -> TagRecord:
    """Top-k catalog products of a live window, claimed when ``rule`` is sure (``streams.worker.claims``),
    else with the reason it is not; with ``lineup_hits`` the stream's lineup answers first
    (``streams.worker.tag_scope``). ``uncalibrated`` (why the rule does not hold for this worker's
    encoder) and a rule fitted for another model than the embedding's never claim."""
    scoped = choose_scope(hits, lineup_hits, rec.lineup, list(rec.branches), rec.summary, rule, limit=max(1, len(hits)))
    if scoped.scope == "catalog" and rec.seller_id:
        scoped = replace(scoped, scope="seller")  # the search saw only the stream's seller's products
    not_for = uncalibrated or rule.mismatch(model_version=rec.model_version)
    if not_for and scoped.hits:
        scoped = replace(scoped, claimed=False, reason=not_for)
    products = [
        {"product_id": h.properties.get("product_id"), "title": h.properties.get("title"), "score": round(h.score, 4)}
        for h in scoped.hits
    ]
    return TagRecord(
        object_id=rec.object_id,
        stream_id=rec.stream_id or "",
        window=rec.window or (0, 0),
        products=products,
        claimed=scoped.claimed,
        unclaimed_reason=scoped.reason,
        scope=scoped.scope,
        lineup_unknown=scoped.unknown,
        tagged_at=now,
        revision=rec.revision,
        segment_start_ms=rec.segment_start_ms,
        product_hint=rec.product_hint,
        seller_id=rec.seller_id,
        modality=features_of([], list(rec.branches), None).modality,
    )
