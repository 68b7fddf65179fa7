"""Unit tests of applying raw input messages to a stream's state (no broker)."""

from __future__ import annotations

import base64
import io
import json

import pytest
from PIL import Image

from streams.kafka.topics import TopicNames
from streams.schemas import BadRecord
from streams.settings import Settings
from streams.worker.ingest import INTERNAL_EVENT, apply_message, window_config

T = TopicNames("t")
S = Settings(window_ms=10_000, hop_ms=10_000, grace_ms=1_000)
CFG = window_config(S)


def asr(seq: int, ts: int) -> bytes:
    return json.dumps({"stream_id": "s", "seq": seq, "start_ms": ts, "end_ms": ts + 900, "text": f"c{seq}"}).encode()


def keyframe(ts: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 32), (ts % 255, 10, 10)).save(buf, "PNG")
    return json.dumps({"stream_id": "s", "ts_ms": ts, "image_b64": base64.b64encode(buf.getvalue()).decode()}).encode()


def event(kind: str, ts: int) -> bytes:
    return json.dumps({"stream_id": "s", "ts_ms": ts, "type": kind}).encode()


def test_expected_sources_come_from_the_settings() -> None:
    cfg = window_config(Settings(window_sources_live="asr, keyframes,events", window_sources_video="asr"))
    assert cfg.expected("live") == ("asr", "keyframes", "events") and cfg.expected("video") == ("asr",)
    with pytest.raises(ValueError):
        window_config(Settings(window_sources_live="asr,video"))


def test_idle_check_from_a_producer_is_rejected_with_its_reason() -> None:
    st, _, _ = apply_message(T.asr, asr(0, 0), None, 0.0, S, CFG, T)
    with pytest.raises(BadRecord) as exc:
        apply_message(T.events, event("idle_check", 99_000), st, 0.0, S, CFG, T)
    assert exc.value.reason == INTERNAL_EVENT
    assert st.windows and st.closed_until_ms == -1


def test_records_at_or_below_the_applied_offset_are_replays() -> None:
    st, first, _ = apply_message(T.asr, asr(0, 0), None, 0.0, S, CFG, T, offset=7)
    assert not first.duplicate and st.offsets == {"asr": 7}
    _, again, _ = apply_message(T.asr, asr(0, 0), st, 0.0, S, CFG, T, offset=7)
    assert again.duplicate
    st, frame, _ = apply_message(T.keyframes, keyframe(500), st, 0.0, S, CFG, T, offset=3)
    assert not frame.duplicate and st.offsets == {"asr": 7, "keyframes": 3}
    _, replayed, _ = apply_message(T.keyframes, keyframe(500), st, 0.0, S, CFG, T, offset=2)
    assert replayed.duplicate and sum(len(w.frames) for w in st.windows.values()) == 1


def test_asr_first_then_keyframes_closes_every_window_with_both() -> None:
    st = None
    closed = []
    for i in range(25):
        st, res, _ = apply_message(T.asr, asr(i, i * 1_000), st, 0.0, S, CFG, T, offset=i)
        closed += res.closed
    assert closed == []  # no keyframe seen yet: nothing closes on ASR alone
    for j, ts in enumerate(range(500, 25_000, 3_000)):
        st, res, _ = apply_message(T.keyframes, keyframe(ts), st, 0.0, S, CFG, T, offset=j)
        assert not res.late
        closed += res.closed
    assert [(c.window_id, bool(c.text), len(c.keyframes) > 0) for c in closed] == [
        ("s@0-10000", True, True), ("s@10000-20000", True, True)
    ]


def test_an_event_record_is_byte_bounded_before_it_is_parsed() -> None:
    """A broadcaster event is a few hundred bytes; a 5 MB one (e.g. gzip-compressed on the wire, which the
    broker accepts) was parsed whole before, since the events topic had no byte check."""
    st, _, _ = apply_message(T.asr, asr(0, 0), None, 0.0, S, CFG, T)
    big = json.dumps({"stream_id": "s", "ts_ms": 5_000, "type": "product_switch", "product_hint": "x",
                      "padding": "a" * 5_000_000}).encode()
    with pytest.raises(BadRecord, match="limit"):
        apply_message(T.events, big, st, 0.0, S, CFG, T)


def test_a_stream_published_twice_is_a_harmless_replay() -> None:
    """`ampere publish` run twice sent every record again at new offsets: its keyframes were
    dead-lettered as late (18 in the report) and windows closed on quiet were reopened and re-tagged."""
    from streams.worker.windowing import close_all

    msgs = [(T.asr, asr(i, i * 1_500)) for i in range(16)] + [(T.keyframes, keyframe(ts)) for ts in range(500, 24_000, 3_000)]
    msgs += [(T.events, event("end", 24_000))]
    st, offset = None, 0
    for topic, raw in msgs:
        st, _, _ = apply_message(topic, raw, st, 0.0, S, CFG, T, offset=offset)
        offset += 1
    first = close_all(st, "stream_end", CFG)
    assert first
    for topic, raw in msgs:  # the same records again, later in the log
        st, res, _ = apply_message(topic, raw, st, 5.0, S, CFG, T, offset=offset)
        offset += 1
        assert not res.late and not res.closed and not res.reopened, (topic, res)
    assert not st.windows and not close_all(st, "stream_end", CFG)


def test_a_large_keyframe_is_decoded_shrunk_never_in_full(monkeypatch) -> None:
    """A broadcast-size JPEG is decoded scaled down (JPEG draft) to about the thumbnail side: the
    candidate is built from an image near THUMB_SIDE, and its thumbnail still fills that side."""
    from streams.keyframes import THUMB_SIDE
    from streams.worker import ingest

    seen: list[tuple[int, int]] = []
    real = ingest.make_candidate

    def spy(ts_ms, img, **kw):
        seen.append(img.size)
        return real(ts_ms, img, **kw)

    monkeypatch.setattr(ingest, "make_candidate", spy)
    buf = io.BytesIO()
    Image.effect_mandelbrot((2560, 1440), (-2.0, -1.2, 1.0, 1.2), 50).convert("RGB").save(buf, "JPEG", quality=90)
    raw = json.dumps({"stream_id": "s", "ts_ms": 500, "image_b64": base64.b64encode(buf.getvalue()).decode()}).encode()
    st, _, _ = apply_message(T.keyframes, raw, None, 0.0, S, CFG, T, offset=0)
    assert len(seen) == 1 and min(seen[0]) < 2 * THUMB_SIDE, seen
    (frame,) = [f for w in st.windows.values() for f in w.frames]
    assert max(Image.open(io.BytesIO(base64.b64decode(frame.jpeg_b64))).size) == THUMB_SIDE
