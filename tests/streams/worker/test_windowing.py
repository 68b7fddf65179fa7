"""Unit tests of the pure windowing state machine."""

from __future__ import annotations

import pytest

from streams.keyframes import FrameCandidate
from streams.worker.windowing import (
    StreamState,
    WindowConfig,
    apply_chunk,
    apply_end,
    apply_frame,
    apply_product_switch,
    close_all,
    close_idle,
    idle_expired,
    new_state,
    shed,
)

CFG = WindowConfig(window_ms=10_000, hop_ms=10_000, grace_ms=1_000, idle_close_ms=5_000, max_keyframes=2, sources_live=("asr",))
AV = WindowConfig(window_ms=10_000, hop_ms=10_000, grace_ms=1_000, idle_close_ms=5_000, max_keyframes=2)


def chunk(seq: int, start: int, text: str = "hello", lang: str = "en") -> dict:
    return {"seq": seq, "start_ms": start, "end_ms": start + 900, "text": text, "lang": lang}


def frame(ts: int, sharp: float = 1.0, hist: tuple[float, ...] = (1.0, 0.0)) -> FrameCandidate:
    return FrameCandidate(ts, f"img{ts}", sharp, hist)


def test_tumbling_window_closes_after_end_plus_grace() -> None:
    st = new_state("s1", 0, CFG)
    closed = []
    for i, t in enumerate(range(0, 12_000, 1_000)):
        closed += apply_chunk(st, chunk(i, t, f"w{i}"), CFG, clock=1.0).closed
    assert [c.window_id for c in closed] == ["s1@0-10000"]
    assert closed[0].text == " ".join(f"w{i}" for i in range(10))
    assert closed[0].reason == "watermark"


def test_sliding_windows_share_chunks() -> None:
    cfg = WindowConfig(window_ms=10_000, hop_ms=5_000, grace_ms=0, max_keyframes=2, sources_live=("asr",))
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


def test_each_segment_keeps_its_own_product_hint() -> None:
    """Chapters "a", "b", "c": the windows of a segment carry its hint, also once later switches
    came in before they closed (every window used to carry the newest hint) and after a restore."""
    st = new_state("s", 0, CFG)
    for ts, hint in ((0, "a"), (3_000, "b"), (6_000, "c")):
        apply_product_switch(st, ts, hint, CFG, 0.0)
    out = [c for ts in (500, 3_500) for c in apply_chunk(st, chunk(ts, ts), CFG, 0.0).closed]
    st = StreamState.from_dict(st.to_dict())
    out += [c for ts in (6_500, 8_500) for c in apply_chunk(st, chunk(ts, ts), CFG, 0.0).closed]
    out += close_all(st, "stream_end", CFG)
    assert [(c.start_ms, c.product_hint) for c in out] == [(0, "a"), (3_000, "b"), (6_000, "c")]


def test_window_waits_for_the_slowest_source() -> None:
    st = new_state("s", 0, AV)
    apply_frame(st, frame(500), AV, 0.0)
    for i, t in enumerate(range(0, 30_000, 1_000)):
        assert not apply_chunk(st, chunk(i, t), AV, 0.0).closed  # keyframes still at 500 ms
    late_frame = apply_frame(st, frame(9_000), AV, 0.0)
    assert not late_frame.duplicate and not late_frame.closed
    closed = apply_frame(st, frame(11_500), AV, 0.0).closed
    assert [c.window_id for c in closed] == ["s@0-10000"] and len(closed[0].keyframes) == 2


def test_end_closes_what_all_sources_passed_and_settles_the_rest() -> None:
    st = new_state("s", 0, CFG)
    closed = [c for i, t in enumerate(range(0, 13_000, 1_000)) for c in apply_chunk(st, chunk(i, t), CFG, clock=10.0).closed]
    assert [c.window_id for c in closed] == ["s@0-10000"]
    res = apply_end(st, 13_000, CFG, clock=10.0)
    assert res.closed == []  # 10-20 s is not passed by every source: it settles on quiet
    assert st.ended and not idle_expired(st, 11.0, CFG) and idle_expired(st, 11.6, CFG)
    rest = close_all(st, "stream_end", CFG)
    assert [c.window_id for c in rest] == ["s@10000-20000"]
    again = apply_chunk(st, chunk(3, 3_000), CFG, 12.0)
    assert again.duplicate and not again.closed


def test_idle_detection_uses_the_callers_clock() -> None:
    st = new_state("s", 0, CFG)
    apply_chunk(st, chunk(0, 0), CFG, clock=100.0)
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


def _run(events: list[tuple[str, int, int]], cfg: WindowConfig) -> dict[str, tuple[str, tuple[int, ...]]]:
    """Apply (kind, seq, ts) events; return window id -> (text, keyframe times) of every window closed."""
    st = new_state("s", 0, cfg)
    out = {}
    for kind, seq, ts in events:
        res = apply_chunk(st, chunk(seq, ts, f"c{seq}"), cfg, 0.0) if kind == "asr" else apply_frame(st, frame(ts), cfg, 0.0)
        assert not res.late, res.late
        out |= {c.window_id: (c.text, tuple(k.ts_ms for k in c.keyframes)) for c in res.closed}
    out |= {c.window_id: (c.text, tuple(k.ts_ms for k in c.keyframes)) for c in close_all(st, "stream_end", cfg)}
    return out


def test_one_source_sent_entirely_first_loses_nothing() -> None:
    asr = [("asr", i, i * 2_000) for i in range(20)]
    frames = [("keyframes", 0, 500 + i * 4_000) for i in range(10)]
    interleaved = sorted(asr + frames, key=lambda e: e[2])
    want = _run(interleaved, AV)
    assert len(want) == 4 and all(text and kfs for text, kfs in want.values())
    assert _run(asr + frames, AV) == want  # a batch uploader: every ASR chunk, then every keyframe
    assert _run(frames + asr, AV) == want


def test_window_closes_only_when_every_expected_source_passed() -> None:
    st = new_state("s", 0, AV)
    for i in range(30):
        assert not apply_chunk(st, chunk(i, i * 1_000), AV, 0.0).closed  # no keyframe seen yet
    assert apply_frame(st, frame(11_000), AV, 0.0).closed[0].window_id == "s@0-10000"
    cfg = WindowConfig(window_ms=10_000, hop_ms=10_000, grace_ms=1_000, sources_live=("asr", "keyframes", "events"))
    st = new_state("s", 0, cfg)
    apply_chunk(st, chunk(0, 0), cfg, 0.0)
    apply_frame(st, frame(12_000), cfg, 0.0)
    assert not apply_chunk(st, chunk(1, 12_000), cfg, 0.0).closed  # the events watermark has not moved
    assert [c.window_id for c in apply_product_switch(st, 11_500, "p2", cfg, 0.0).closed] == ["s@0-10000"]


def test_late_keyframe_is_reported_not_silently_dropped() -> None:
    st = new_state("s", 0, AV)
    for i in range(12):
        apply_chunk(st, chunk(i, i * 1_000), AV, 0.0)
        apply_frame(st, frame(i * 1_000 + 1), AV, 0.0)
    assert "s@0-10000" not in {w for w in st.windows}
    res = apply_frame(st, frame(4_321), AV, 0.0)
    assert res.late_kind == "keyframes" and "late keyframe" in res.late and "4321" in res.late
    assert not res.duplicate


def test_late_product_switch_is_reported_and_windows_keep_their_segment() -> None:
    st = new_state("s", 0, CFG)
    for i in range(12):
        apply_chunk(st, chunk(i, i * 1_000), CFG, 0.0)
    res = apply_product_switch(st, 5_000, "p2", CFG, 0.0)
    assert res.late_kind == "product_switch" and "late product switch" in res.late
    assert st.origins == [0] and st.product_hint is None
    assert apply_product_switch(st, 0, None, CFG, 0.0).duplicate


def test_window_closed_on_quiet_is_reopened_by_its_late_content() -> None:
    st = new_state("s", 0, AV)
    apply_chunk(st, chunk(0, 1_000, "red mug"), AV, clock=10.0)
    assert idle_expired(st, 15.0, AV)
    first = close_idle(st, 15.0, AV)
    assert [(c.window_id, c.reason, c.keyframes) for c in first] == [("s@0-10000", "idle", [])]
    res = apply_frame(st, frame(2_000), AV, clock=16.0)  # the keyframes topic was behind: not late
    assert not res.late and res.reopened == 1
    res = apply_chunk(st, chunk(1, 12_000, "next"), AV, 17.0)
    closed = apply_frame(st, frame(11_500), AV, 17.0).closed
    assert [(c.window_id, c.text, len(c.keyframes)) for c in closed] == [("s@0-10000", "red mug", 1)]  # same id: overwrite
    assert not st.retained


def test_retained_windows_are_bounded() -> None:
    cfg = WindowConfig(window_ms=1_000, hop_ms=1_000, idle_close_ms=1, retain_closed=2, sources_live=("asr",))
    st = new_state("s", 0, cfg)
    for i in range(5):
        apply_chunk(st, chunk(i, i * 1_000 + 10), cfg, clock=float(i))
        close_idle(st, i + 0.5, cfg)
    assert sorted(st.retained) == [3_000, 4_000]
    assert apply_chunk(st, chunk(9, 1_500), cfg, 9.0).late_kind == "asr"
    assert not apply_chunk(st, chunk(10, 3_500), cfg, 9.0).late


def test_state_round_trips_with_retained_windows_and_offsets() -> None:
    st = new_state("s", 0, AV)
    apply_chunk(st, chunk(0, 1_000), AV, 1.0)
    close_all(st, "idle", AV)
    st.offsets["asr"] = 41
    assert StreamState.from_dict(st.to_dict()).to_dict() == st.to_dict()


def test_unknown_sources_are_rejected() -> None:
    with pytest.raises(ValueError):
        WindowConfig(sources_live=("asr", "audio"))
    with pytest.raises(ValueError):
        WindowConfig(sources_video=())


# --- late chunks and the applied seq history (issue: late ASR vanished as "duplicates") ------------


def test_a_late_chunk_with_an_old_seq_is_reported_not_taken_for_a_duplicate() -> None:
    st = new_state("s", 0, CFG)
    for i, t in enumerate((0, 3_000, 12_000)):  # seq 2 closes window 0
        apply_chunk(st, chunk(i, t), CFG, 0.0)
    assert 0 not in st.windows
    res = apply_chunk(st, chunk(1, 500), CFG, 0.0)  # seq 1 again: really applied before
    assert res.duplicate and not res.late
    gap = apply_chunk(st, chunk(5, 12_500), CFG, 0.0)  # seq 5 into the open window
    assert not gap.late and not gap.duplicate
    late = apply_chunk(st, chunk(4, 2_000), CFG, 0.0)  # seq 4 < max seq 5, its window closed: late, not a duplicate
    assert late.late_kind == "asr" and not late.duplicate and "seq=4" in late.late


def test_seq_zero_after_seq_one_into_a_closed_window_is_late() -> None:
    st = new_state("s", 0, CFG)
    apply_chunk(st, chunk(1, 0), CFG, 0.0)
    apply_chunk(st, chunk(2, 12_000), CFG, 0.0)
    res = apply_chunk(st, chunk(0, 100), CFG, 0.0)
    assert res.late_kind == "asr" and not res.duplicate


def test_seq_history_is_bounded_and_what_it_forgot_is_reported_as_late_or_repeated() -> None:
    cfg = WindowConfig(window_ms=10_000, hop_ms=10_000, grace_ms=0, sources_live=("asr",), max_seq_ranges=4)
    st = new_state("s", 0, cfg)
    for i in range(0, 40, 2):  # every other seq: one range each
        apply_chunk(st, chunk(i, i * 1_000), cfg, 0.0)
    assert len(st.seqs) == 4 and st.seq_floor == 30
    res = apply_chunk(st, chunk(2, 2_000), cfg, 0.0)
    assert res.late and "older than the remembered history" in res.late
    assert apply_chunk(st, chunk(38, 38_000), cfg, 0.0).duplicate


def test_contiguous_seqs_take_one_range() -> None:
    st = new_state("s", 0, CFG)
    for i in (0, 2, 1, 3, 5, 4):
        apply_chunk(st, chunk(i, i * 100), CFG, 0.0)
    assert st.seqs == [[0, 5]]


def test_a_version_3_state_is_read_with_its_history_starting_at_max_seq() -> None:
    st = new_state("s", 0, CFG)
    for i in range(3):
        apply_chunk(st, chunk(i, i * 1_000), CFG, 0.0)
    old = st.to_dict()
    old.update(state_v=3)
    del old["seqs"], old["seq_floor"]
    back = StreamState.from_dict(old)
    assert back.seq_floor == 2 and apply_chunk(back, chunk(1, 1_000), CFG, 0.0).duplicate  # still in the open window


# --- the state budget (issue: one stream's state outgrew the message limit and wedged the stage) ----


def test_a_chunk_over_the_window_text_budget_is_rejected_and_changes_nothing() -> None:
    cfg = WindowConfig(window_ms=10_000, hop_ms=10_000, sources_live=("asr",), max_window_text_bytes=10_000)
    st = new_state("s", 0, cfg)
    emoji = "\U0001F600" * 1_000  # 4,000 bytes as stored UTF-8 JSON (12,000 as escaped ASCII JSON)
    assert not apply_chunk(st, chunk(0, 0, emoji), cfg, 0.0).rejected
    assert not apply_chunk(st, chunk(1, 100, emoji), cfg, 0.0).rejected
    before = st.to_dict()
    res = apply_chunk(st, chunk(2, 200, emoji), cfg, 0.0)
    assert res.rejected and "window budget" in res.rejected and "limit 10000" in res.rejected
    assert st.to_dict() == before
    assert not apply_chunk(st, chunk(3, 300, "short"), cfg, 0.0).rejected  # the stream goes on


def test_a_chunk_over_the_window_chunk_count_is_rejected() -> None:
    cfg = WindowConfig(window_ms=10_000, hop_ms=10_000, sources_live=("asr",), max_window_chunks=3)
    st = new_state("s", 0, cfg)
    results = [apply_chunk(st, chunk(i, i * 10), cfg, 0.0) for i in range(5)]
    assert [bool(r.rejected) for r in results] == [False, False, False, True, True]
    assert "3 ASR chunks" in results[3].rejected


def test_control_characters_count_at_their_escaped_size() -> None:
    cfg = WindowConfig(window_ms=10_000, hop_ms=10_000, sources_live=("asr",), max_window_text_bytes=5_000)
    st = new_state("s", 0, cfg)
    res = apply_chunk(st, chunk(0, 0, "\x01" * 1_000), cfg, 0.0)  # 6,000 bytes as JSON
    assert res.rejected


def test_open_windows_are_capped_by_closing_the_oldest_early() -> None:
    cfg = WindowConfig(window_ms=10_000, hop_ms=10_000, grace_ms=0, max_open_windows=3)  # asr + keyframes expected
    st = new_state("s", 0, cfg)
    closed = []
    for i in range(6):  # keyframes never come: without the cap every window stays open
        closed += apply_chunk(st, chunk(i, i * 10_000, f"w{i}"), cfg, 0.0).closed
    assert len(st.windows) == 3
    assert [(c.text, c.reason) for c in closed] == [("w0", "budget"), ("w1", "budget"), ("w2", "budget")]
    assert apply_chunk(st, chunk(9, 500), cfg, 0.0).late_kind == "asr"  # content of an early-closed window: reported


def test_product_segments_are_bounded_and_old_ones_forgotten() -> None:
    cfg = WindowConfig(window_ms=10_000, hop_ms=10_000, grace_ms=0, sources_live=("asr",), max_segments=4)
    st = new_state("s", 0, cfg)
    results = [apply_product_switch(st, 1_000 + i, f"p{i}", cfg, 0.0) for i in range(6)]
    assert [bool(r.rejected) for r in results] == [False, False, False, True, True, True]
    apply_chunk(st, chunk(0, 1_002), cfg, 0.0)
    assert apply_chunk(st, chunk(1, 50_000), cfg, 0.0).closed  # the window of the last segment closed
    assert not apply_product_switch(st, 51_000, "q", cfg, 0.0).rejected
    assert len(st.origins) <= 2


def test_shed_closes_every_window_and_forgets_retained_ones() -> None:
    st = new_state("s", 0, AV)
    apply_chunk(st, chunk(0, 0, "a"), AV, 0.0)
    close_all(st, "idle", AV)
    apply_chunk(st, chunk(1, 10_000, "b"), AV, 0.0)
    out = shed(st, AV)
    assert [(c.text, c.reason) for c in out] == [("b", "budget")] and not st.windows and not st.retained
