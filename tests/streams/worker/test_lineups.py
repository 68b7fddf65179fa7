"""Lineups: the event, the window state that carries them, and the scope a tag is judged in (no broker)."""

from __future__ import annotations

import json

import pytest

from engines.store.weaviate_store import Hit
from streams.kafka.topics import TopicNames
from streams.schemas import MAX_LINEUP, BadRecord, EmbeddingRecord, StreamEventRecord, parse_record
from streams.settings import Settings
from streams.worker import stages
from streams.worker.claims import ClaimRule, Thresholds
from streams.worker.ingest import apply_message, window_config
from streams.worker.tag_scope import choose_scope
from streams.worker.windowing import StreamState, close_all, window_lineup
from tests.streams.worker.test_ingest import asr, event, keyframe

T = TopicNames("t")
S = Settings(window_ms=10_000, hop_ms=10_000, grace_ms=1_000)
CFG = window_config(S)
#: any modality: claim at top-1 >= 0.5 with a margin of 0.1 over the runner-up
RULE = ClaimRule({m: Thresholds(0.5, 0.1) for m in ("visual+text", "visual", "text")})


def lineup(ts: int, ids: list[str], sid: str = "s") -> bytes:
    return json.dumps({"stream_id": sid, "ts_ms": ts, "type": "lineup", "product_ids": ids}).encode()


def feed(messages: list[tuple[str, bytes]], st: StreamState | None = None) -> tuple[StreamState, list]:
    closed = []
    for i, (topic, raw) in enumerate(messages):
        st, res, _ = apply_message(topic, raw, st, 0.0, S, CFG, T, offset=i)
        closed += res.closed
    assert st is not None
    return st, closed


def content(start: int, end: int) -> list[tuple[str, bytes]]:
    out = [(T.asr, asr(ts // 1000, ts)) for ts in range(start, end, 1000)]
    return out + [(T.keyframes, keyframe(ts)) for ts in range(start + 500, end, 3000)]


# --- the event ------------------------------------------------------------------------------------


def test_a_lineup_event_needs_its_product_ids_and_only_a_lineup_carries_them() -> None:
    ok = parse_record(lineup(5, ["p-1", "p-2"]), StreamEventRecord)
    assert ok.type == "lineup" and ok.product_ids == ["p-1", "p-2"]
    assert parse_record(lineup(5, []), StreamEventRecord).product_ids == []  # clears the lineup
    with pytest.raises(BadRecord, match="product_ids is required"):
        parse_record(event("lineup", 5), StreamEventRecord)
    with pytest.raises(BadRecord, match="only there"):
        parse_record(json.dumps({"stream_id": "s", "ts_ms": 5, "type": "product_switch", "product_ids": ["p"]}), StreamEventRecord)


@pytest.mark.parametrize("ids", [
    [f"p-{i}" for i in range(MAX_LINEUP + 1)],  # more products than any room lists
    ["p-1", ""],  # an empty id
    ["p-1\u202eevil"],  # a bidi override inside an id
    ["p-1", 7],  # a number, not an id
    "p-1",  # a string, not a list
])
def test_a_hostile_lineup_is_refused_with_its_reason(ids) -> None:
    raw = json.dumps({"stream_id": "s", "ts_ms": 5, "type": "lineup", "product_ids": ids}).encode()
    st, _ = feed(content(0, 3000))
    with pytest.raises(BadRecord):
        apply_message(T.events, raw, st, 0.0, S, CFG, T)
    assert st.lineups == []


# --- the window state -----------------------------------------------------------------------------


def test_a_lineup_declared_before_the_show_reaches_every_window() -> None:
    st, closed = feed([(T.events, lineup(0, ["p-1", "p-2"])), *content(0, 25_000), (T.events, event("end", 25_000))])
    closed += close_all(st, "stream_end", CFG)
    assert [c.lineup for c in closed] == [["p-1", "p-2"]] * 3


def test_a_window_takes_every_lineup_in_effect_while_it_was_open_and_a_cleared_one_gives_none() -> None:
    msgs = [(T.events, lineup(0, ["p-1"])), *content(0, 12_000), (T.events, lineup(15_000, ["p-2", "p-1"])),
            *content(12_000, 32_000), (T.events, lineup(30_000, [])), *content(32_000, 45_000)]
    st, closed = feed(msgs)
    closed += close_all(st, "stream_end", CFG)
    by_start = {c.start_ms: c.lineup for c in closed}
    assert by_start == {0: ["p-1"], 10_000: ["p-1", "p-2"], 20_000: ["p-2", "p-1"], 30_000: None, 40_000: None}


def test_a_stream_without_a_lineup_has_none_and_the_state_keeps_lineups_through_its_record() -> None:
    st, closed = feed(content(0, 15_000))
    assert all(c.lineup is None for c in closed)
    st, _ = feed([(T.events, lineup(16_000, ["p-9"]))], st)
    again = StreamState.from_dict(json.loads(json.dumps(st.to_dict())))
    assert again.lineups == st.lineups == [(16_000, ["p-9"])]
    assert window_lineup(again, 20_000, 30_000) == ["p-9"]


def test_lineup_changes_are_bounded_and_keep_the_one_open_windows_need() -> None:
    st, _ = feed(content(0, 5_000))
    for i in range(100):  # a broadcaster that re-declares its lineup every 10 ms
        st, _, _ = apply_message(T.events, lineup(5_000 + i * 10, [f"p-{i}"]), st, 0.0, S, CFG, T, offset=1000 + i)
    assert len(st.lineups) <= CFG.max_lineups
    assert window_lineup(st, 0, 10_000)[-1] == "p-99"


# --- the scope of a tag ---------------------------------------------------------------------------


def hit(pid: str, score: float) -> Hit:
    return Hit(f"o-{pid}", score, {"product_id": pid, "title": pid})


def test_without_a_lineup_the_catalog_answers_as_before() -> None:
    catalog = [hit("a", 0.8), hit("a-lookalike", 0.78)]
    s = choose_scope(catalog, None, None, ["visual"], None, RULE, limit=5)
    assert (s.scope, s.claimed, s.unknown) == ("catalog", False, [])


def test_a_lineup_removes_the_look_alikes_the_show_does_not_sell() -> None:
    catalog = [hit("a", 0.8), hit("a-lookalike", 0.78), hit("b", 0.4)]
    in_lineup = [hit("a", 0.8), hit("b", 0.4)]
    s = choose_scope(catalog, in_lineup, ["a", "b"], ["visual"], None, RULE, limit=5)
    assert (s.scope, s.claimed, [h.properties["product_id"] for h in s.hits]) == ("lineup", True, ["a", "b"])


def test_a_product_shown_off_the_lineup_is_never_claimed_as_a_lineup_product() -> None:
    """The best match overall is not in the lineup (the seller shows something else, or the lineup is
    wrong): the lineup's best is not promoted, the catalog answers with its own rule."""
    catalog = [hit("x", 0.9), hit("a", 0.6), hit("b", 0.3)]
    in_lineup = [hit("a", 0.6), hit("b", 0.3)]
    s = choose_scope(catalog, in_lineup, ["a", "b"], ["visual"], None, RULE, limit=5)
    assert (s.scope, s.claimed, s.hits[0].properties["product_id"]) == ("catalog", True, "x")
    weak = choose_scope([hit("x", 0.55), hit("y", 0.5), hit("a", 0.3)], [hit("a", 0.3)], ["a"], ["visual"], None, RULE, 5)
    assert (weak.scope, weak.claimed) == ("catalog", False) and "not in the stream's lineup" in weak.reason


def test_lineup_ids_the_catalog_lacks_are_reported_and_the_rest_still_searched() -> None:
    catalog = [hit("a", 0.8), hit("c", 0.5)]
    s = choose_scope(catalog, [hit("a", 0.8)], ["a", "ghost-1", "ghost-2"], ["visual"], None, RULE, limit=5)
    assert (s.scope, s.claimed, s.unknown) == ("lineup", True, ["ghost-1", "ghost-2"])
    none_known = choose_scope(catalog, [], ["ghost"], ["visual"], None, RULE, limit=5)
    assert (none_known.scope, none_known.unknown) == ("catalog", ["ghost"])


def test_the_tag_record_says_its_scope_and_the_unknown_lineup_ids() -> None:
    rec = EmbeddingRecord(object_id="o", kind="live", stream_id="s", window=(0, 10), model_version="m", vector=[1.0],
                          indexed_at=1.0, branches={"visual": [1.0]}, lineup=["a", "ghost"])
    tag = stages.tag_record(rec, [hit("a", 0.8), hit("z", 0.75)], RULE, 2.0, lineup_hits=[hit("a", 0.8)])
    assert (tag.scope, tag.claimed, tag.lineup_unknown) == ("lineup", True, ["ghost"])
    plain = stages.tag_record(rec.model_copy(update={"lineup": None}), [hit("a", 0.8), hit("z", 0.75)], RULE, 2.0)
    assert (plain.scope, plain.claimed, plain.lineup_unknown) == ("catalog", False, [])


def test_without_the_guard_the_lineup_answers_whenever_the_rule_is_sure_among_its_products() -> None:
    catalog = [hit("x", 0.9), hit("a", 0.85), hit("b", 0.3)]
    in_lineup = [hit("a", 0.85), hit("b", 0.3)]
    guarded = choose_scope(catalog, in_lineup, ["a", "b"], ["visual"], None, RULE, limit=5)
    assert (guarded.scope, guarded.claimed) == ("catalog", False)
    trusting = choose_scope(catalog, in_lineup, ["a", "b"], ["visual"], None, RULE, limit=5, best_overall=False)
    assert (trusting.scope, trusting.claimed, trusting.hits[0].properties["product_id"]) == ("lineup", True, "a")

