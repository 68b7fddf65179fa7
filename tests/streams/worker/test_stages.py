"""Unit tests of the stage functions (no broker, no store)."""

from __future__ import annotations

import base64
import hashlib
import io

import numpy as np
import pytest
from PIL import Image

from engines.encode.base import Embeddings
from engines.store.weaviate_store import Hit
from engines.summarize.schema import Summary
from streams.ids import moment_object_id
from streams.keyframes import make_candidate
from streams.schemas import (
    BadRecord,
    DeadLetter,
    EmbeddingRecord,
    ProductRecordMsg,
    TagRecord,
    WindowRecord,
    dump_record,
    parse_record,
)
from streams.worker import stages
from streams.worker.claims import ClaimRule
from streams.worker.image_source import UriPolicy
from streams.worker.windowing import ClosedWindow


def _jpeg_b64(color: tuple[int, int, int]) -> str:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), color).save(buf, format="JPEG")
    return base64.b64encode(buf.getvalue()).decode()


def _window(text: str = "red cotton shirt", frames: int = 2) -> WindowRecord:
    cw = ClosedWindow(
        window_id="s@0-1000",
        stream_id="s",
        start_ms=0,
        end_ms=1000,
        text=text,
        lang="en",
        keyframes=[make_candidate(i, Image.new("RGB", (50, 50), (200, 10 * i, 0))) for i in range(frames)],
        reason="watermark",
    )
    return stages.window_record(cw, closed_at=100.0)


def _emb(n: int, text_mask: list[bool]) -> Embeddings:
    rng = np.random.default_rng(0)
    f = rng.normal(size=(n, 8)).astype(np.float32)
    f /= np.linalg.norm(f, axis=1, keepdims=True)
    return Embeddings(f, f.copy(), f.copy(), np.ones(n, bool), np.array(text_mask), "m-v1")


def test_moment_item_masks_empty_summary_text() -> None:
    w = _window(frames=2)
    full = stages.summary_records([w], [Summary(has_product=True, sentence="A red shirt.")], now=101.0)[0]
    empty = stages.summary_records([w], [Summary(has_product=False, sentence="")], now=101.0)[0]
    assert stages.moment_item(full, extractive_text="sentence").text == "A red shirt."
    assert stages.moment_item(empty, extractive_text="sentence").text is None
    assert len(stages.moment_item(full).images) == 2


def test_extractive_windows_encode_their_transcript_llm_windows_their_summary() -> None:
    """Revision 1 (extractive) encodes the raw speech, which retrieves better than the extractive
    sentence; an LLM summary (revision 2) is encoded as the configured text (here: the summary)."""
    w = _window(text="um so this red cotton shirt, 240 gig", frames=0)
    extractive = stages.summary_records([w], [Summary(has_product=False, sentence="")], now=101.0)[0]
    llm = stages.summary_records([w], [Summary(has_product=True, sentence="Red cotton shirt.", source="llamacpp")],
                                 now=101.0, revision=2)[0]
    assert stages.moment_item(extractive).text == "um so this red cotton shirt, 240 gig"  # not "nothing to index"
    assert stages.moment_item(llm, refined="summary").text == "Red cotton shirt."
    silent = stages.summary_records([_window(text="  ", frames=0)], [Summary(has_product=False)], now=101.0)[0]
    with pytest.raises(BadRecord):
        stages.moment_item(silent)


def test_embedding_records_carry_the_spoken_terms() -> None:
    recs = stages.summary_records([_window(text="the two hundred forty gig one, extra large")],
                                  [Summary(has_product=False)], now=102.0)
    rec = stages.moment_objects(recs, _emb(1, [False]), "live", {}).records[0]
    assert {"240gb", "sz_xl"} <= set(rec.spoken_terms)


def test_rerank_by_attributes_moves_the_variant_whose_value_was_said_up() -> None:
    hits = [Hit("a", 0.80, {"attribute_values": ["120GB", "i7-8700"]}),
            Hit("b", 0.79, {"attribute_values": ["240GB", "i7-8700"]}),
            Hit("c", 0.50, {"attribute_values": ["240GB", "i7-8700"]}),
            Hit("d", 0.78, {})]
    said = stages.rerank_by_attributes(hits, stages.spoken_terms("the i7 8700 with two hundred forty gig"))
    assert [h.object_id for h in said] == ["b", "a", "d", "c"]
    assert said[0].score == pytest.approx(0.79 + 2 * 0.05) and said[1].score == pytest.approx(0.80 + 0.05)
    assert [h.object_id for h in stages.rerank_by_attributes(hits, [])] == ["a", "b", "d", "c"]


def test_summary_count_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError):
        stages.summary_records([_window(), _window()], [Summary(has_product=False)], now=0.0)


def test_moment_objects_ids_are_deterministic_and_masked_vectors_left_out() -> None:
    recs = stages.summary_records([_window()], [Summary(has_product=False)], now=102.0)
    batch = stages.moment_objects(recs, _emb(1, [False]), "live", {"encode": 0.1})
    assert batch.objects[0].object_id == moment_object_id("live", "s", 0, 1000, "m-v1")
    assert batch.objects[0].vectors["text"] is None and batch.objects[0].vectors["fused"] is not None
    rec = batch.records[0]
    assert rec.timings["summarize"] == pytest.approx(2.0) and rec.window == (0, 1000)
    again = stages.moment_objects(recs, _emb(1, [False]), "live", {})
    assert again.objects[0].object_id == batch.objects[0].object_id


def test_product_item_and_text() -> None:
    rec = ProductRecordMsg(product_id="p1", title="Canvas Tote", brand="Acme", attributes={"color": "blue"}, images_b64=[_jpeg_b64((0, 0, 255))])
    item = stages.product_item(rec, UriPolicy(max_bytes=10**6), 40_000_000)
    assert item.domain == "product" and len(item.images) == 1
    assert "Canvas Tote" in item.text and "blue" in item.text and "Acme" in item.text


def test_product_item_rejects_bad_image() -> None:
    rec = ProductRecordMsg(product_id="p1", title="x", images_b64=[base64.b64encode(b"nope").decode()])
    with pytest.raises(BadRecord):
        stages.product_item(rec, UriPolicy(max_bytes=10**6), 40_000_000)


def _black_png_b64(side: int) -> str:
    buf = io.BytesIO()
    Image.new("1", (side, side)).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def test_product_images_share_one_pixel_budget() -> None:
    """16 legal 2100x2100 photos (70.6 Mpx, a few KB each on the wire) pass the per-image limit, not the
    message budget (default 64 Mpx); 14 pass and are kept at the encoder's working size only."""
    policy = UriPolicy(max_bytes=10**6)
    png = _black_png_b64(2100)
    with pytest.raises(BadRecord, match="pixel budget of 64000000 pixels"):
        stages.product_item(ProductRecordMsg(product_id="p", title="x", images_b64=[png] * 16), policy, 40_000_000)
    rec = ProductRecordMsg(product_id="p", title="x", images_b64=[png] * 14)
    item = stages.product_item(rec, policy, 40_000_000)
    assert [im.size for im in item.images] == [(stages.PRODUCT_IMAGE_SIDE,) * 2] * 14
    with pytest.raises(BadRecord, match="pixel budget of 5000000 pixels"):
        stages.product_item(rec, policy, 40_000_000, 5_000_000)


def test_tag_threshold() -> None:
    rec = EmbeddingRecord(object_id="o", kind="live", stream_id="s", window=(0, 1), model_version="m", vector=[1.0], indexed_at=1.0)
    hits = [Hit("a", 0.8, {"product_id": "p1", "title": "T"}), Hit("b", 0.5, {"product_id": "p2", "title": "U"})]
    assert stages.tag_record(rec, hits, ClaimRule.fixed(0.7), 2.0).claimed
    low = stages.tag_record(rec, hits, ClaimRule.fixed(0.9), 2.0)
    assert not low.claimed and low.products[0]["product_id"] == "p1" and "below 0.900" in low.unclaimed_reason
    assert not stages.tag_record(rec, [], ClaimRule.fixed(0.1), 2.0).claimed


def test_dead_letter_keeps_original_bytes() -> None:
    dl = stages.dead_letter("t", 1, 5, b"k", b"\xff\x00bad", "because")
    back = parse_record(dl.model_dump_json().encode(), DeadLetter)
    assert base64.b64decode(back.value_b64) == b"\xff\x00bad" and back.reason == "because" and back.offset == 5
    assert back.value_size == 5 and not back.value_truncated


def test_dead_letter_of_a_huge_value_is_capped_with_size_and_hash() -> None:
    value = b"x" * 5_000_000
    dl = stages.dead_letter("t", 0, 1, b"k" * 10_000, value, "bad \ud83d reason" * 1000, max_value_bytes=1000)
    raw = dump_record(dl)
    assert len(raw) < 10_000
    back = parse_record(raw, DeadLetter)
    assert back.value_truncated and back.value_size == 5_000_000
    assert back.value_sha256 == hashlib.sha256(value).hexdigest()
    assert len(base64.b64decode(back.value_b64)) == 1000
    reason_only = stages.dead_letter("t", 0, 1, None, value, "why", max_value_bytes=0)
    assert reason_only.value_b64 == "" and reason_only.value_truncated


def test_dump_record_never_raises_on_a_lone_surrogate() -> None:
    # built without validation, as state written by an older version could hold one
    rec = TagRecord.model_construct(v=1, object_id="o", stream_id="s\ud83d", window=(0, 1), products=[], claimed=False, tagged_at=1.0)
    assert "s\ufffd" in parse_record(dump_record(rec), TagRecord).stream_id


async def test_summarizer_error_fallback_is_marked() -> None:
    from engines.summarize import build_summarizer

    w = WindowRecord(window_id="w", stream_id="s", start_ms=0, end_ms=1, text="a red cotton tee", lang="en",
                     keyframes_b64=[], close_reason="idle", closed_at=1.0)
    out = await stages.fallback_summaries(build_summarizer("extractive"), [w], RuntimeError("boom"))
    assert out[0].fallback_reason and "boom" in out[0].fallback_reason
    assert out[0].fallback_class == "engine_raised"


@pytest.mark.parametrize(
    "raw, fragment",
    [
        (b"{not json", "not valid JSON"),
        (b"[1,2]", "expected a JSON object"),
        (b'{"stream_id": "s"}', "does not match"),
        (b'{"v": 99, "window_id": "w"}', "unsupported schema version"),
        (None, "empty message"),
    ],
)
def test_parse_record_reasons(raw: bytes | None, fragment: str) -> None:
    with pytest.raises(BadRecord, match=fragment):
        parse_record(raw, WindowRecord)


class _Named:
    def __init__(self, name: str) -> None:
        self.name = name
        self.seen: list[str] = []

    async def asummarize(self, batch):
        self.seen += [r.window_id for r in batch]
        return [Summary(has_product=True, sentence=self.name, source="extractive") for _ in batch]


def test_shedding_sends_only_late_windows_to_the_fallback() -> None:
    import asyncio

    fresh, late = _window(), _window().model_copy(update={"window_id": "late", "closed_at": 10.0})
    llm, fb = _Named("llm"), _Named("fallback")
    out = asyncio.run(stages.summarize_with_shedding(llm, fb, [late, fresh], now=101.0, max_lag_s=5.0))
    assert [s.sentence for s in out] == ["fallback", "llm"]
    assert out[0].fallback_reason.startswith("shed") and out[1].fallback_reason is None
    assert [s.fallback_class for s in out] == ["shed", None]
    assert llm.seen == [fresh.window_id] and fb.seen == ["late"]
    off = asyncio.run(stages.summarize_with_shedding(llm, fb, [late], now=101.0, max_lag_s=0))
    assert off[0].sentence == "llm"


def test_window_with_nothing_to_encode_is_a_bad_record() -> None:
    rec = stages.summary_records([_window(frames=0)], [Summary(has_product=False)], now=1.0)[0]
    with pytest.raises(BadRecord, match="nothing to index"):
        stages.moment_item(rec, extractive_text="sentence")


def test_concat_embeddings_keeps_rows_and_masks() -> None:
    a, b = _emb(1, [True]), _emb(2, [False, True])
    c = stages.concat_embeddings([a, b])
    assert len(c) == 3 and c.text_mask.tolist() == [True, False, True] and c.model_version == "m-v1"


def test_video_windows_are_indexed_as_video_moments() -> None:
    live = _window()
    video = _window().model_copy(update={"window_id": "v@0-1000", "stream_id": "v", "domain": "video"})
    recs = stages.summary_records([live, video], [Summary(has_product=False)] * 2, now=101.0)
    batch = stages.moment_batches(recs, _emb(2, [False, False]), {})
    kinds = {o.properties["stream_id"]: o.kind for o in batch.objects}
    assert kinds == {"s": "live", "v": "video"}
    assert {r.kind for r in batch.records} == {"live", "video"}
    assert stages.moment_item(recs[1], "video").domain == "video"


def _batch(revs: list[int]) -> stages.IndexedBatch:
    from engines.store.weaviate_store import StoredObject

    objs = [StoredObject("live", f"o{i}", {"revision": r}) for i, r in enumerate(revs)]
    recs = [EmbeddingRecord(object_id=f"o{i}", kind="live", model_version="m", vector=[1.0], indexed_at=0.0, revision=r)
            for i, r in enumerate(revs)]
    return stages.IndexedBatch(objs, recs)


def test_an_older_revision_never_replaces_a_newer_one() -> None:
    kept, stale = stages.drop_stale(_batch([1, 1, 2]), {"o0": 2, "o1": 1, "o2": 1})
    assert [r.object_id for r in kept.records] == ["o1", "o2"] and stale == 1
    assert [o.object_id for o in kept.objects] == ["o1", "o2"]
    kept, stale = stages.drop_stale(_batch([2]), {"o0": 2})
    assert len(kept.records) == 1 and stale == 0, "the same revision again overwrites (idempotent replay)"


def test_refinement_is_shed_only_past_the_lag_bound() -> None:
    w = WindowRecord(window_id="w", stream_id="s", start_ms=0, end_ms=1, text="t", lang="en",
                     keyframes_b64=[], close_reason="idle", closed_at=100.0)
    assert stages.refinement_due(w, 150.0, 60.0) and not stages.refinement_due(w, 161.0, 60.0)
    assert stages.refinement_due(w, 10_000.0, 0)


def test_within_a_batch_the_highest_revision_wins() -> None:
    b = _batch([2, 1])
    b.records[1] = b.records[1].model_copy(update={"object_id": "o0"})
    b.objects[1].object_id = "o0"
    kept, stale = stages.drop_stale(b, {})
    assert [(r.object_id, r.revision) for r in kept.records] == [("o0", 2)] and stale == 1


class _RecordingStore:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []

    def near_vectors(self, kind, vectors, *, limit=10, where=None):
        self.calls.append((kind, vectors))
        return []


def test_search_uses_the_branches_the_window_has() -> None:
    recs = stages.summary_records([_window(), _window()],
                                  [Summary(has_product=False), Summary(has_product=True, sentence="A red shirt.")], now=1.0)
    emb = _emb(2, [False, True])
    emb.visual[0] = -emb.fused[0]  # make the branches distinguishable from the fused vector
    silent, spoken = stages.moment_objects(recs, emb, "live", {}).records
    assert set(silent.branches) == {"visual"} and set(spoken.branches) == {"visual", "text"}
    assert stages.product_query(silent) == {"visual": pytest.approx(emb.visual[0].tolist())}
    assert stages.product_query(spoken) == {"visual": pytest.approx(emb.visual[1].tolist()),
                                            "text": pytest.approx(emb.text[1].tolist())}
    store = _RecordingStore()
    stages.search_products(store, silent, limit=3)  # type: ignore[arg-type]
    assert store.calls == [("product", {"visual": pytest.approx(emb.visual[0].tolist())})]


def test_record_without_branches_searches_fused() -> None:
    rec = EmbeddingRecord(object_id="o", kind="live", model_version="m", vector=[1.0, 0.0], indexed_at=0.0)
    assert stages.product_query(rec) == {"fused": [1.0, 0.0]}


def test_a_refined_window_keeps_its_transcript_by_default() -> None:
    """Revision 2 encodes what revision 1 did (the transcript), so a refinement cannot move a tag by
    encoding a sentence that retrieves worse; an empty LLM summary no longer leaves nothing to index."""
    w = _window(text="three hundred twenty nine dollars tonight", frames=0)
    llm = stages.summary_records([w], [Summary(has_product=True, sentence="A camera.", source="llamacpp")],
                                 now=101.0, revision=2)[0]
    empty = stages.summary_records([w], [Summary(has_product=False, sentence="", source="llamacpp")],
                                   now=101.0, revision=2)[0]
    rev1 = stages.summary_records([w], [Summary(has_product=False, sentence="")], now=101.0)[0]
    assert stages.moment_item(llm).text == stages.moment_item(rev1).text == "three hundred twenty nine dollars tonight"
    assert stages.moment_item(empty).text == "three hundred twenty nine dollars tonight"
    assert stages.moment_item(llm, refined="appended").text == "three hundred twenty nine dollars tonight A camera."


def test_a_moment_record_says_where_its_time_went() -> None:
    """Close → queryable split into summarize, queue (summarized → taken up by the embed agent), the
    batch's own steps and the store; without the split a slow agent hid as 'latency'."""
    w = _window().model_copy(update={"closed_at": 100.0})
    recs = stages.summary_records([w], [Summary(has_product=False)], now=100.5)
    batch = stages.moment_batches(recs, _emb(1, [False]), {"prepare": 0.05, "encode": 0.3}, started_at=103.5)
    t = batch.records[0].timings
    assert t == {"prepare": 0.05, "encode": 0.3, "summarize": 0.5, "queue": 3.0}
    stored = stages.stamp_indexed(batch.records, 104.0, store_s=0.15)[0]
    assert stored.indexed_at == 104.0 and stored.timings["store"] == 0.15 and stored.timings["queue"] == 3.0
    assert "queue" not in stages.moment_batches(recs, _emb(1, [False]), {}).records[0].timings
