"""Segments from window tags: evidence accumulates, replays change nothing, conflicts are not claimed."""

from __future__ import annotations

import json

from streams.schemas import TagRecord
from streams.worker.claims import ClaimRule, Thresholds
from streams.worker.segments import SegmentState, decide, mean_scores, segment_id

RULE = ClaimRule({"visual+text": Thresholds(0.5, 0.08)}, lineup_thresholds={"visual+text": Thresholds(0.5, 0.04)})


def tag(i: int, scores: dict[str, float], *, claimed: bool = False, revision: int = 1, scope: str = "catalog",
        hint: str | None = None, start: int = 0) -> TagRecord:
    products = [{"product_id": p, "title": p.upper(), "score": s} for p, s in sorted(scores.items(), key=lambda kv: -kv[1])]
    return TagRecord(object_id=f"w{i}", stream_id="s1", window=(start + i * 5000, start + i * 5000 + 10000),
                     products=products, claimed=claimed, unclaimed_reason=None if claimed else "weak",
                     scope=scope, tagged_at=100.0 + i, revision=revision, segment_start_ms=start,
                     product_hint=hint, modality="visual+text")


def state() -> SegmentState:
    return SegmentState(segment_id("s1", 0), "s1", 0)


def test_segment_ids_are_deterministic_and_differ_per_segment() -> None:
    assert segment_id("s1", 0) == segment_id("s1", 0)
    assert len({segment_id("s1", 0), segment_id("s1", 5000), segment_id("s2", 0)}) == 3
    assert segment_id("s1", None) == segment_id("s1", 0)


def test_windows_no_single_one_could_claim_claim_the_segment_together() -> None:
    st = state()
    # each window: margin 0.05 < 0.08, so no window alone is claimed
    for i in range(4):
        st.fold(tag(i, {"a": 0.62, "b": 0.57, "c": 0.4}))
    v = decide(st, RULE)
    assert (v.product_id, v.claimed, v.basis) == ("a", True, "evidence")  # 0.05 >= 0.08 / sqrt(4)
    assert v.title == "A"


def test_one_weak_window_is_not_claimed_and_two_are_not_enough_for_a_thin_margin() -> None:
    st = state()
    st.fold(tag(0, {"a": 0.62, "b": 0.57}))
    assert decide(st, RULE).claimed is False
    st.fold(tag(1, {"a": 0.62, "b": 0.57}))
    v = decide(st, RULE)
    assert v.claimed is False and "needs 0.057" in (v.reason or "")  # 0.05 < 0.08 / sqrt(2)


def test_the_top_score_floor_holds_for_the_mean_however_many_windows() -> None:
    st = state()
    for i in range(30):
        st.fold(tag(i, {"a": 0.45, "b": 0.30}))
    v = decide(st, RULE)
    assert v.claimed is False and "below 0.500" in (v.reason or "")


def test_a_claimed_window_carries_the_segment_unless_the_others_contradict_it() -> None:
    st = state()
    st.fold(tag(0, {"a": 0.8, "b": 0.5}, claimed=True))
    st.fold(tag(1, {"a": 0.55, "b": 0.54}))
    assert (decide(st, RULE).claimed, decide(st, RULE).basis) == (True, "window")
    for i in range(2, 8):
        st.fold(tag(i, {"b": 0.7, "a": 0.5}))
    v = decide(st, RULE)
    assert v.product_id == "b" and v.claimed is False and "claim 'a'" in (v.reason or "")


def test_windows_claimed_for_different_products_are_not_claimed() -> None:
    st = state()
    st.fold(tag(0, {"a": 0.8, "b": 0.5}, claimed=True))
    st.fold(tag(1, {"b": 0.8, "a": 0.5}, claimed=True))
    v = decide(st, RULE)
    assert v.claimed is False and "different products" in (v.reason or "")


def test_a_replayed_tag_changes_nothing_and_a_refined_one_replaces_its_window() -> None:
    st = state()
    assert st.fold(tag(0, {"a": 0.6, "b": 0.59})) is True
    assert st.fold(tag(0, {"a": 0.6, "b": 0.59})) is False
    assert st.fold(tag(0, {"a": 0.9, "b": 0.3}, revision=2)) is True
    assert st.fold(tag(0, {"a": 0.1, "b": 0.9}, revision=1)) is False  # an older revision never wins
    assert len(st.windows) == 1 and st.windows["w0"].scores["a"] == 0.9


def test_a_stored_segment_continues_exactly_after_a_restart() -> None:
    st = state()
    for i in range(3):
        st.fold(tag(i, {"a": 0.62, "b": 0.57}, hint="a"))
    st.revision = 3
    back = SegmentState.from_evidence(st.segment_id, "s1", 0, st.product_hint,
                                      json.loads(json.dumps(st.evidence_json())), st.revision)
    assert back.windows == st.windows and back.product_hint == "a"
    assert back.fold(tag(2, {"a": 0.62, "b": 0.57})) is False
    back.fold(tag(3, {"a": 0.62, "b": 0.57}))
    st.fold(tag(3, {"a": 0.62, "b": 0.57}))
    assert decide(back, RULE) == decide(st, RULE)
    assert (back.start_ms, back.end_ms) == (0, 25_000)


def test_a_hint_never_decides_the_claim() -> None:
    weak = state()
    hinted = state()
    for i in range(2):
        weak.fold(tag(i, {"a": 0.62, "b": 0.58}))
        hinted.fold(tag(i, {"a": 0.62, "b": 0.58}, hint="b"))
    assert decide(weak, RULE) == decide(hinted, RULE)
    assert decide(hinted, RULE).product_id == "a"


def test_an_unlisted_product_counts_the_windows_lowest_score() -> None:
    st = state()
    st.fold(tag(0, {"a": 0.8, "b": 0.6}))
    st.fold(tag(1, {"c": 0.7, "a": 0.5}))
    means = {p: round(s, 6) for p, s in mean_scores(list(st.windows.values()))}
    assert means == {"a": 0.65, "b": 0.55, "c": 0.65}


def test_lineup_windows_are_judged_with_the_lineup_thresholds_and_apart_from_catalog_ones() -> None:
    st = state()
    for i in range(2):
        st.fold(tag(i, {"a": 0.62, "b": 0.58}, scope="lineup"))  # 0.04 >= 0.04/sqrt(2)
    st.fold(tag(2, {"z": 0.9, "a": 0.3}))
    v = decide(st, RULE)
    assert (v.product_id, v.claimed) == ("a", True)


def test_an_uncalibrated_rule_never_claims_a_segment() -> None:
    st = state()
    st.fold(tag(0, {"a": 0.9, "b": 0.2}, claimed=True))
    v = decide(st, RULE, uncalibrated="calibration is for model x, not y")
    assert v.claimed is False and v.reason == "calibration is for model x, not y"


def test_evidence_is_bounded() -> None:
    from streams.worker import segments

    st = state()
    for i in range(segments.MAX_WINDOWS + 5):
        st.fold(tag(i, {"a": 0.6}))
    assert len(st.windows) == segments.MAX_WINDOWS
    assert "w0" not in st.windows and f"w{segments.MAX_WINDOWS + 4}" in st.windows


def test_a_hostile_tag_counts_only_its_usable_products() -> None:
    st = state()
    bad = tag(0, {"a": 0.8, "b": 0.5}).model_copy(update={"products": [
        {"product_id": "a", "score": 0.8}, {"product_id": 5, "score": 0.9}, {"product_id": "c", "score": "0.9"},
        {"product_id": "d", "score": float("nan")}, {"product_id": "e", "score": True}, "junk", {"score": 0.99},
        *({"product_id": f"x{i}", "score": 0.1} for i in range(100)),
    ]})
    assert st.fold(bad)
    (w,) = st.windows.values()
    assert set(w.scores) == {"a"} | {f"x{i}" for i in range(49)} and w.scores["a"] == 0.8
    assert decide(st, RULE).product_id == "a"


def test_windows_of_different_kinds_say_so_when_unclaimed() -> None:
    st = state()
    st.fold(tag(0, {"a": 0.62, "b": 0.58}))
    st.fold(tag(1, {"a": 0.62, "b": 0.58}).model_copy(update={"modality": "text"}))
    v = decide(st, RULE)
    assert not v.claimed and "2 windows are of different kinds" in (v.reason or ""), v.reason
