"""Each agent's error routes, with plain in-memory stand-ins for the broker and the engines."""

from __future__ import annotations

import base64
import io
import json
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from engines.encode.base import Embeddings
from engines.errors import PermanentError
from engines.store.weaviate_store import Hit
from engines.summarize import build_summarizer
from streams.schemas import EmbeddingRecord, SummaryRecordMsg, TagRecord, WindowRecord, dump_record
from streams.settings import Settings
from streams.worker.agents.context import AgentContext, Engines
from streams.worker.agents.index import catalog_batch, embed_batch
from streams.worker.agents.segment import segment_batch
from streams.worker.agents.summarize import refine_batch, summarize_batch
from streams.worker.agents.tag import tag_batch


@dataclass
class Msg:
    topic: str
    value: bytes | None
    key: bytes | None = b"s"
    partition: int = 0
    offset: int = 0


@dataclass
class Ev:
    message: Msg

    @property
    def value(self) -> bytes | None:
        return self.message.value


def ev(topic: str, value: bytes | None, offset: int = 0) -> Ev:
    return Ev(Msg(topic, value, offset=offset))


class FakeEncoder:
    def __init__(self, poison: str | None = None) -> None:
        self.poison = poison

    def encode(self, items):
        if any(self.poison and (it.text or "").find(self.poison) >= 0 for it in items):
            raise ValueError("poison item")
        n = len(items)
        v = np.ones((n, 4), np.float32) / 2
        return Embeddings(v, v, v, np.ones(n, bool), np.ones(n, bool), "m1")


@dataclass
class FakeStore:
    refuse: set[str] = field(default_factory=set)
    stored: dict[str, dict] = field(default_factory=dict)
    up: bool = True

    def is_ready(self) -> bool:
        return self.up

    def revisions(self, kind, ids):
        return {i: self.stored[i]["revision"] for i in ids if i in self.stored}

    def fetch(self, kind, ids):
        return {i: self.stored[i] for i in ids if i in self.stored}

    def upsert(self, objects):
        bad = [o.object_id for o in objects if o.properties.get("product_id") in self.refuse]
        if bad:
            raise PermanentError(f"refused {bad}")
        for o in objects:
            self.stored[o.object_id] = {"revision": o.properties.get("revision", 1), **o.properties}

    def near_vectors(self, kind, vectors, *, limit=3, where=None):
        if kind == "product" and not self.up:
            raise ConnectionError("down")
        return [Hit("p", 0.9, {"product_id": "p1", "title": "Mug"})]


class Sent:
    def __init__(self) -> None:
        self.records: list[tuple[str, bytes | None, dict]] = []

    async def __call__(self, role: str, key: bytes | None, value: bytes) -> None:
        self.records.append((role, key, json.loads(value)))

    def of(self, role: str) -> list[dict]:
        return [v for r, _, v in self.records if r == role]


def ctx_for(summarizer: str = "extractive", encoder=None, store=None, **settings) -> tuple[AgentContext, Sent]:
    sent = Sent()
    s = Settings(summarizer=summarizer, store_permanent_tries=2, **settings)
    extractive = build_summarizer("extractive")
    engines = Engines(extractive, extractive, encoder or FakeEncoder(), store or FakeStore())
    return AgentContext(s, sent, lambda: engines), sent


def _jpeg() -> str:
    buf = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 0, 0)).save(buf, format="JPEG")
    return base64.b64encode(buf.getvalue()).decode()


def _window(start: int = 0, text: str = "a red ceramic coffee mug, twelve ounces") -> WindowRecord:
    return WindowRecord(window_id=f"s@{start}", stream_id="s", start_ms=start, end_ms=start + 10, text=text, lang="en",
                        keyframes_b64=[_jpeg()], close_reason="watermark", closed_at=1.0)


async def test_summarize_dead_letters_a_bad_window_and_summarizes_the_rest() -> None:
    ctx, sent = ctx_for()
    await ctx.guarded([ev("t.windows", b"{bad", 1), ev("t.windows", dump_record(_window()), 2)], summarize_batch)
    assert [d["offset"] for d in sent.of("dlq")] == [1]
    assert len(sent.of("summaries")) == 1 and sent.of("summaries")[0]["revision"] == 1


async def test_refine_skips_bad_windows_silently_and_sheds_late_ones() -> None:
    ctx, sent = ctx_for(refine_max_lag_ms=1000)
    await ctx.guarded([ev("t.windows", b"{bad"), ev("t.windows", dump_record(_window()))], refine_batch, dead_letter=False)
    assert sent.of("dlq") == [] and ctx.counters["refine_shed"] == 1, "closed_at=1.0 is long past the bound"


async def test_refine_summarizes_the_due_windows_of_a_batch_in_one_call() -> None:
    ctx, sent = ctx_for(refine_max_lag_ms=0)
    engine = ctx.engines.summarizer
    calls: list[int] = []

    async def counting(batch):
        calls.append(len(batch))
        return engine.summarize(batch)

    engine.asummarize = counting  # the real extractive engine, its calls counted
    windows = [dump_record(_window(start)) for start in (0, 10, 20)]
    await ctx.guarded([ev("t.windows", w) for w in windows], refine_batch, dead_letter=False)
    assert calls == [3], "the CPU LLM decodes a batch's windows together only if it gets them together"
    assert [r["revision"] for r in sent.of("summaries")] == [2, 2, 2]


async def test_a_body_that_raises_dead_letters_its_batch_and_the_agent_goes_on() -> None:
    ctx, sent = ctx_for()

    async def boom(ctx, events):
        raise RuntimeError("unplanned")

    await ctx.guarded([ev("t.x", b"1", 1), ev("t.x", b"2", 2)], boom)
    assert [d["reason"] for d in sent.of("dlq")] == ["unexpected RuntimeError: unplanned"] * 2
    await ctx.guarded([ev("t.x", b"3")], boom, dead_letter=False)
    assert len(sent.of("dlq")) == 2 and ctx.counters["batch_errors"] == 2


async def test_embed_isolates_a_poison_item_and_keeps_revision_order() -> None:
    store = FakeStore()
    ctx, sent = ctx_for(encoder=FakeEncoder(poison="POISON"), store=store)
    s = build_summarizer("extractive")

    def summ(w: WindowRecord, rev: int) -> bytes:
        from engines.summarize.schema import SummaryRequest

        sm = s.summarize([SummaryRequest(window_id=w.window_id, text=w.text, lang="en")])[0].model_dump(mode="json")
        sm["sentence"], sm["has_product"] = w.text, True
        return dump_record(SummaryRecordMsg(window=w, summary=sm, summarized_at=2.0, revision=rev))

    good, poison = _window(0), _window(100, "POISON mug")
    await ctx.guarded([ev("t.summaries", summ(good, 2), 1), ev("t.summaries", summ(poison, 1), 2),
                       ev("t.summaries", b"[]", 3)], embed_batch)
    reasons = {d["offset"]: d["reason"] for d in sent.of("dlq")}
    assert set(reasons) == {2, 3} and reasons[2].startswith("cannot encode")
    assert [e["revision"] for e in sent.of("embeddings")] == [2]
    await ctx.guarded([ev("t.summaries", summ(good, 1), 4)], embed_batch)
    assert len(sent.of("embeddings")) == 1 and ctx.counters["stale_skipped"] == 1, "revision 1 never replaces 2"
    assert next(iter(store.stored.values()))["revision"] == 2


async def test_catalog_dead_letters_only_the_product_the_store_refuses() -> None:
    store = FakeStore(refuse={"bad"})
    ctx, sent = ctx_for(store=store)

    def product(pid: str) -> bytes:
        return json.dumps({"product_id": pid, "title": f"thing {pid}", "images_b64": [_jpeg()]}).encode()

    await ctx.guarded([ev("t.products", product("ok"), 1), ev("t.products", product("bad"), 2),
                       ev("t.products", b'{"product_id": "x", "title": true}', 3)], catalog_batch)
    assert sorted(d["offset"] for d in sent.of("dlq")) == [2, 3]
    assert [e["product_id"] for e in sent.of("embeddings")] == ["ok"]


async def test_tag_dead_letters_bad_records_and_ignores_products() -> None:
    ctx, sent = ctx_for()
    live = EmbeddingRecord(object_id="o", kind="live", stream_id="s", window=(0, 10), model_version="m",
                           vector=[0.5] * 4, indexed_at=1.0, revision=2)
    product = live.model_copy(update={"kind": "product", "stream_id": None})
    await ctx.guarded([ev("t.emb", dump_record(live), 1), ev("t.emb", dump_record(product), 2),
                       ev("t.emb", b"nope", 3)], tag_batch)
    assert [d["offset"] for d in sent.of("dlq")] == [3]
    tags = sent.of("tags")
    assert len(tags) == 1 and tags[0]["revision"] == 2 and tags[0]["products"][0]["product_id"] == "p1"


async def test_a_dead_letter_that_the_broker_refuses_falls_back_to_the_reason_only() -> None:
    attempts: list[int] = []

    async def send(role, key, value):
        attempts.append(len(value))
        if len(value) > 1000:
            raise RuntimeError("MessageSizeTooLargeError")

    ctx = AgentContext(Settings(dlq_max_value_bytes=100_000), send, lambda: None)
    await ctx.to_dlq(ev("t.asr", b"x" * 50_000), "too big")
    assert len(attempts) == 2 and attempts[1] < 1000


async def test_refine_counts_fields_of_the_wrong_kind() -> None:
    ctx, sent = ctx_for(refine_max_lag_ms=0)
    engine = ctx.engines.summarizer

    async def wrong_kinds(batch):
        return [s.model_copy(update={"rejected_fields": ["attributes.color", "attributes.size"]})
                for s in engine.summarize(batch)]

    engine.asummarize = wrong_kinds
    await ctx.guarded([ev("t.windows", dump_record(_window()))], refine_batch, dead_letter=False)
    assert ctx.counters["field_kind_rejected"] == 2
    assert sent.of("summaries")[0]["summary"]["rejected_fields"] == ["attributes.color", "attributes.size"]


async def test_tag_claims_by_the_calibrated_rule_and_says_why_not(monkeypatch) -> None:
    """A text-only window whose only hit scores 0.9 is claimed under a 0.35 override, not by a rule
    that needs 0.95 for text windows; the tag then carries the reason."""
    from streams.worker import claims

    live = EmbeddingRecord(object_id="o", kind="live", stream_id="s", window=(0, 10), model_version="m",
                           vector=[0.5] * 4, indexed_at=1.0, branches={"text": [0.5] * 4})
    strict = claims.ClaimRule({"text": claims.Thresholds(0.95, 0.0)})
    monkeypatch.setattr(claims, "shipped_rule", lambda: strict)
    ctx, sent = ctx_for()
    await ctx.guarded([ev("t.emb", dump_record(live), 1)], tag_batch)
    tag = sent.of("tags")[0]
    assert not tag["claimed"] and "below 0.950" in tag["unclaimed_reason"]
    ctx, sent = ctx_for(tag_min_score=0.35)
    await ctx.guarded([ev("t.emb", dump_record(live), 1)], tag_batch)
    assert sent.of("tags")[0]["claimed"] and sent.of("tags")[0]["unclaimed_reason"] is None


def _tag(i: int, top: str, score: float, *, claimed: bool = False, segment: int = 0, revision: int = 1) -> bytes:
    return dump_record(TagRecord(
        object_id=f"w{segment}-{i}", stream_id="s", window=(segment + i * 5000, segment + i * 5000 + 10000),
        products=[{"product_id": top, "title": top.upper(), "score": score}, {"product_id": "other", "title": "", "score": 0.2}],
        claimed=claimed, unclaimed_reason=None if claimed else "weak", tagged_at=10.0 + i, revision=revision,
        segment_start_ms=segment, modality="visual+text",
    ))


async def test_segments_accumulate_across_batches_and_workers_and_a_replay_is_not_a_revision() -> None:
    store = FakeStore()
    ctx, sent = ctx_for(store=store)
    await ctx.guarded([ev("t.tags", _tag(0, "p1", 0.9, claimed=True), 0), ev("t.tags", b"{", 1)], segment_batch)
    assert [d["offset"] for d in sent.of("dlq")] == [1]
    first = sent.of("segments")
    assert len(first) == 1 and first[0]["claimed"] and first[0]["revision"] == 1 and first[0]["windows"] == 1
    # another worker (a restart, a rebalance) carries on from the store
    ctx2, sent2 = ctx_for(store=store)
    await ctx2.guarded([ev("t.tags", _tag(1, "p1", 0.6), 2), ev("t.tags", _tag(0, "p1", 0.9, claimed=True), 0)], segment_batch)
    (seg,) = sent2.of("segments")
    assert (seg["segment_id"], seg["revision"], seg["windows"]) == (first[0]["segment_id"], 2, 2)
    assert (seg["start_ms"], seg["end_ms"], seg["product_id"]) == (0, 15_000, "p1")
    await ctx2.guarded([ev("t.tags", _tag(1, "p1", 0.6), 2)], segment_batch)  # replayed: nothing new
    assert len(sent2.of("segments")) == 1
    # a product switch opens a new segment with its own id
    await ctx2.guarded([ev("t.tags", _tag(0, "p2", 0.9, segment=60_000), 3)], segment_batch)
    assert sent2.of("segments")[-1]["segment_id"] != seg["segment_id"] and sent2.of("segments")[-1]["revision"] == 1


async def test_a_segment_the_store_refuses_dead_letters_its_tags() -> None:
    store = FakeStore(refuse={"p9"})
    ctx, sent = ctx_for(store=store)
    await ctx.guarded([ev("t.tags", _tag(0, "p9", 0.9, claimed=True), 5)], segment_batch)
    assert [d["offset"] for d in sent.of("dlq")] == [5] and not sent.of("segments")


async def test_a_tag_whose_rule_is_for_another_model_never_makes_a_claimed_segment() -> None:
    ctx, sent = ctx_for()
    bad = json.loads(_tag(0, "p1", 0.95))
    bad["unclaimed_reason"] = "calibration is for model m0, not m1"
    await ctx.guarded([ev("t.tags", json.dumps(bad).encode(), 0), ev("t.tags", _tag(1, "p1", 0.95), 1)], segment_batch)
    (seg,) = sent.of("segments")
    assert not seg["claimed"] and seg["reason"].startswith("calibration is for model m0")
