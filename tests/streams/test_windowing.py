"""Unit tests of the pure windowing state machine."""

from __future__ import annotations

import pytest

from streams.keyframes import FrameCandidate
from streams.windowing import (
    StreamState,
    WindowConfig,
    apply_chunk,
    apply_end,
    apply_frame,
    apply_product_switch,
    close_all,
    idle_expired,
    new_state,
)

CFG = WindowConfig(window_ms=10_000, hop_ms=10_000, grace_ms=1_000, idle_close_ms=5_000, max_keyframes=2)


def chunk(seq: int, start: int, text: str = "hello", lang: str = "en") -> dict:
    return {"seq": seq, "start_ms": start, "end_ms": start + 900, "text": text, "lang": lang}


def frame(ts: int, sharp: float = 1.0, hist: tuple[float, ...] = (1.0, 0.0)) -> FrameCandidate:
    return FrameCandidate(ts, f"img{ts}", sharp, hist)


def test_tumbling_window_closes_after_end_plus_grace() -> None:
    st = new_state("s1", 0, CFG)
    closed = []
    for i, t in enumerate(range(0, 12_000, 1_000)):
        closed += apply_chunk(st, chunk(i, t, f"w{i}"), CFG, wall=1.0).closed
    assert [c.window_id for c in closed] == ["s1@0-10000"]
    assert closed[0].text == " ".join(f"w{i}" for i in range(10))
    assert closed[0].reason == "watermark"


def test_sliding_windows_share_chunks() -> None:
    cfg = WindowConfig(window_ms=10_000, hop_ms=5_000, grace_ms=0, max_keyframes=2)
    st = new_state("s", 0, cfg)
    apply_chunk(st, chunk(0, 7_000, "a"), cfg, 0.0)
    assert sorted(st.windows) == [0, 5_000]
    res = apply_chunk(st, chunk(1, 11_000, "b"), cfg, 0.0)
    assert [c.text for c in res.closed] == ["a"]
    out = close_all(st, "stream_end", cfg)
    assert [c.text for c in out] == ["a b", "b"]


def test_replayed_chunks_are_ignored_and_state_round_trips() -> None:
    st = new_state("s", 0, CFG)
    events = [chunk(i, i * 1_000) for i in range(15)]
    first = [c for e in events for c in apply_chunk(st, e, CFG, 0.0).closed]
    restored = StreamState.from_dict(st.to_dict())
    again = [apply_chunk(restored, e, CFG, 0.0) for e in events]
    assert all(a.duplicate for a in again)
    assert not any(a.closed for a in again) and not any(a.late for a in again)
    assert len(first) == 1
    assert restored.to_dict() == st.to_dict()


def test_late_chunk_is_reported_not_silently_dropped() -> None:
    st = new_state("s", 0, CFG)
    for i in range(12):
        apply_chunk(st, chunk(i, i * 1_000), CFG, 0.0)
    res = apply_chunk(st, chunk(99, 3_000), CFG, 0.0)
    assert res.late and "after its window closed" in res.late


def test_grid_is_aligned_so_slightly_earlier_events_fit() -> None:
    st = new_state("s", 4_000, CFG)
    res = apply_chunk(st, chunk(0, 1_000), CFG, 0.0)
    assert not res.late and 0 in st.windows


def test_product_switch_starts_a_new_segment_and_grid() -> None:
    st = new_state("s", 0, CFG)
    apply_chunk(st, chunk(0, 1_000, "shoe"), CFG, 0.0)
    apply_chunk(st, chunk(1, 4_500, "bag"), CFG, 0.0)  # the ASR topic ran ahead of the marker
    res = apply_product_switch(st, 4_000, "p2", CFG, 0.0)
    assert res.closed == []
    assert sorted((w.start_ms, w.end_ms) for w in st.windows.values()) == [(0, 4_000), (4_000, 14_000)]
    closed = apply_chunk(st, chunk(2, 6_000, "more"), CFG, 0.0).closed
    assert [(c.start_ms, c.end_ms, c.text) for c in closed] == [(0, 4_000, "shoe")]
    out = close_all(st, "stream_end", CFG)
    assert out[0].text == "bag more" and out[0].product_hint == "p2"


def test_window_waits_for_the_slowest_source() -> None:
    st = new_state("s", 0, CFG)
    apply_frame(st, frame(500), CFG, 0.0)
    for i, t in enumerate(range(0, 30_000, 1_000)):
        assert not apply_chunk(st, chunk(i, t), CFG, 0.0).closed  # keyframes still at 500 ms
    late_frame = apply_frame(st, frame(9_000), CFG, 0.0)
    assert not late_frame.duplicate and not late_frame.closed
    closed = apply_frame(st, frame(11_500), CFG, 0.0).closed
    assert [c.window_id for c in closed] == ["s@0-10000"] and len(closed[0].keyframes) == 2


def test_end_closes_what_all_sources_passed_and_settles_the_rest() -> None:
    st = new_state("s", 0, CFG)
    closed = [c for i, t in enumerate(range(0, 13_000, 1_000)) for c in apply_chunk(st, chunk(i, t), CFG, wall=10.0).closed]
    assert [c.window_id for c in closed] == ["s@0-10000"]
    res = apply_end(st, 13_000, CFG, wall=10.0)
    assert res.closed == []  # 10-20 s is not passed by every source: it settles on quiet
    assert st.ended and not idle_expired(st, 11.0, CFG) and idle_expired(st, 11.6, CFG)
    rest = close_all(st, "stream_end", CFG)
    assert [c.window_id for c in rest] == ["s@10000-20000"]
    again = apply_chunk(st, chunk(3, 3_000), CFG, 12.0)
    assert again.duplicate and not again.closed


def test_idle_detection_uses_wall_clock() -> None:
    st = new_state("s", 0, CFG)
    apply_chunk(st, chunk(0, 0), CFG, wall=100.0)
    assert not idle_expired(st, 104.0, CFG)
    assert idle_expired(st, 105.0, CFG)


def test_keyframes_are_bounded_and_selected() -> None:
    st = new_state("s", 0, CFG)
    for t in range(0, 9_000, 500):
        apply_frame(st, frame(t, sharp=float(t % 7), hist=(t / 9000, 1 - t / 9000)), CFG, 0.0)
        assert all(len(w.frames) <= 3 * CFG.max_keyframes for w in st.windows.values())
    out = close_all(st, "idle", CFG)
    assert len(out[0].keyframes) == CFG.max_keyframes
    assert out[0].text == ""


def test_empty_windows_are_not_emitted() -> None:
    st = new_state("s", 0, CFG)
    apply_product_switch(st, 2_000, None, CFG, 0.0)
    assert close_all(st, "stream_end", CFG) == []


def test_bad_geometry_is_rejected() -> None:
    with pytest.raises(ValueError):
        WindowConfig(window_ms=1_000, hop_ms=2_000)
