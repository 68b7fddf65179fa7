from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from streams.gateway.transcript import Cue
from streams.gateway.video import (
    NotAVideo,
    PickConfig,
    SwitchConfig,
    analyze,
    keyframes,
    pick,
    video_messages,
)
from streams.kafka.topics import TopicNames
from streams.schemas import AsrChunkRecord, KeyframeRecord, StreamEventRecord, parse_record
from tests.streams.gateway.video_maker import frame_image, make_video

RED, BLUE, GREEN = (200, 30, 30), (30, 60, 200), (40, 160, 60)


def test_scene_mode_picks_one_frame_per_shot(tmp_path: Path) -> None:
    path = make_video(tmp_path / "v.mp4", [(1.5, RED, "ellipse"), (1.5, BLUE, "rectangle"), (1.0, GREEN, "ellipse")])
    frames = keyframes(path, PickConfig(mode="scene"))
    assert [f.reason for f in frames] == ["first", "scene", "scene"]
    assert [f.ts_ms for f in frames] == [0, 1500, 3000]
    for f in frames:
        assert f.jpeg[:3] == b"\xff\xd8\xff"


def test_rate_mode_picks_a_frame_every_interval(tmp_path: Path) -> None:
    path = make_video(tmp_path / "v.mp4", [(3.0, RED, "ellipse")])
    frames = keyframes(path, PickConfig(mode="rate", every_ms=1000))
    assert [f.ts_ms for f in frames] == [0, 1000, 2000]


def test_scene_mode_keeps_long_shots_covered_and_respects_max_frames() -> None:
    seq = ((i * 100, frame_image(RED, "ellipse", i)) for i in range(130))  # 13 s, one shot
    picks = pick(seq, PickConfig(mode="scene", max_gap_ms=5000))
    assert [(t, why) for t, _, why in picks] == [(0, "first"), (5000, "max_gap"), (10000, "max_gap")]
    alternating = ((i * 1000, frame_image(RED if i % 2 else BLUE, "ellipse", 0)) for i in range(10))
    assert len(pick(alternating, PickConfig(mode="scene", max_frames=4))) == 4


def test_messages_form_a_valid_video_stream() -> None:
    topics = TopicNames("x")
    img = Image.new("RGB", (8, 8))
    from streams.gateway.video import PickedFrame, to_jpeg

    frames = [PickedFrame(0, to_jpeg(img, 64), "first"), PickedFrame(1500, to_jpeg(img, 64), "scene")]
    msgs = video_messages("vid-1", frames, [Cue(200, 1400, "blue canvas shoe")], topics)
    assert [m.topic for m in msgs] == [topics.events, topics.keyframes, topics.asr, topics.keyframes, topics.events]
    assert all(m.key == b"vid-1" for m in msgs)
    start = parse_record(msgs[0].value, StreamEventRecord)
    assert (start.type, start.domain, start.ts_ms) == ("start", "video", 0)
    assert parse_record(msgs[2].value, AsrChunkRecord).text == "blue canvas shoe"
    assert parse_record(msgs[3].value, KeyframeRecord).ts_ms == 1500
    end = json.loads(msgs[-1].value)
    assert (end["type"], end["ts_ms"]) == ("end", 1501)


# --- product switches: chapters, marker sidecars, scene cuts; stills refused -------------------------

THREE_PRODUCTS = [(4.0, RED, "ellipse"), (4.0, BLUE, "rectangle"), (3.8, GREEN, "ellipse")]  # an 11.8 s clip


def _moments(msgs: list) -> list:
    """The windows the worker's state machine closes for these messages, in order."""
    from streams.settings import Settings
    from streams.worker.ingest import apply_message, window_config
    from streams.worker.windowing import close_idle

    settings = Settings()
    cfg, topics, st, closed = window_config(settings), TopicNames(settings.topic_prefix), None, []
    for i, m in enumerate(msgs):
        st, applied, _ = apply_message(m.topic, m.value, st, float(i), settings, cfg, topics)
        closed += applied.closed
    return closed + close_idle(st, len(msgs) + 60.0, cfg)  # the end marker closes the rest once settled


def _messages(path: Path, switches: SwitchConfig | None, markers: list[Cue] | None = None) -> list:
    frames, found = analyze(path, PickConfig(), switches, markers or [])
    from streams.settings import Settings

    return video_messages("clip", frames, [], TopicNames(Settings().topic_prefix), found)


def test_without_switch_markers_a_three_product_clip_is_one_moment(tmp_path: Path) -> None:
    """The report: an 11.8 s clip of three products became one moment about the first one."""
    path = make_video(tmp_path / "v.mp4", THREE_PRODUCTS)
    assert len(_moments(_messages(path, SwitchConfig(chapters=True)))) == 1


def test_scene_switches_make_one_moment_per_product(tmp_path: Path) -> None:
    path = make_video(tmp_path / "v.mp4", THREE_PRODUCTS)
    _, found = analyze(path, PickConfig(), SwitchConfig(scene=True))
    assert [(s.ts_ms, s.source) for s in found] == [(4000, "scene"), (8000, "scene")]
    moments = _moments(_messages(path, SwitchConfig(scene=True)))
    assert [m.start_ms for m in moments] == [0, 4000, 8000]
    assert all(m.keyframes for m in moments)


def test_scene_switches_ignore_cuts_closer_than_the_shortest_segment(tmp_path: Path) -> None:
    """Keyframe cuts every second are not product changes: at most one switch per min_segment_ms."""
    shots = [(1.0, RED if i % 2 else BLUE, "ellipse") for i in range(7)]
    path = make_video(tmp_path / "v.mp4", shots)
    _, found = analyze(path, PickConfig(), SwitchConfig(scene=True, min_segment_ms=3000))
    assert [s.ts_ms for s in found] == [3000, 6000]


def test_container_chapters_are_product_switches_with_their_titles(tmp_path: Path) -> None:
    path = make_video(tmp_path / "v.mp4", THREE_PRODUCTS, chapters=[(0, "red bowl"), (4000, "blue box"), (8000, "green hat")])
    _, found = analyze(path, PickConfig(), SwitchConfig(chapters=True))
    assert [(s.ts_ms, s.hint, s.source) for s in found] == [(4000, "blue box", "chapter"), (8000, "green hat", "chapter")]
    assert [m.start_ms for m in _moments(_messages(path, SwitchConfig(chapters=True)))] == [0, 4000, 8000]
    _, ignored = analyze(path, PickConfig(), SwitchConfig(chapters=False))
    assert ignored == []


def test_marker_cues_are_product_switches(tmp_path: Path) -> None:
    path = make_video(tmp_path / "v.mp4", THREE_PRODUCTS)
    marks = [Cue(0, 1000, "red bowl"), Cue(4200, 5000, "blue box"), Cue(8100, 9000, " ")]
    _, found = analyze(path, PickConfig(), None, marks)
    assert [(s.ts_ms, s.hint) for s in found] == [(4200, "blue box"), (8100, None)]
    frames, _ = analyze(path, PickConfig(), None, marks)
    assert [(f.ts_ms, f.reason) for f in frames] == [(0, "first"), (4000, "scene"), (4200, "switch"), (8000, "scene"), (8100, "switch")]
    moments = _moments(_messages(path, None, marks))
    assert [m.start_ms for m in moments] == [0, 4200, 8100]
    assert all(m.keyframes for m in moments)  # each segment opens with a keyframe of its own


def test_a_switch_goes_before_content_of_the_same_time() -> None:
    img = Image.new("RGB", (8, 8))
    from streams.gateway.video import PickedFrame, Switch, to_jpeg

    frames = [PickedFrame(0, to_jpeg(img, 64), "first"), PickedFrame(1500, to_jpeg(img, 64), "scene")]
    msgs = video_messages("vid-1", frames, [], TopicNames("x"), [Switch(1500, "mug", "chapter")])
    events = [json.loads(m.value) for m in msgs if m.topic == TopicNames("x").events]
    assert [(e["type"], e["ts_ms"]) for e in events] == [("start", 0), ("product_switch", 1500), ("end", 1501)]
    assert events[1]["product_hint"] == "mug"
    kinds = [(m.ts_ms, m.topic) for m in msgs]
    assert kinds.index((1500, TopicNames("x").events)) < kinds.index((1500, TopicNames("x").keyframes))


def test_merge_keeps_one_switch_per_change_and_a_hint_when_any_source_has_one() -> None:
    from streams.gateway.video import Switch, merge_switches

    merged = merge_switches([Switch(0, "first", "chapter"), Switch(4000, None, "scene"), Switch(4100, "box", "marker"),
                             Switch(9000, None, "scene")], min_gap_ms=500)
    assert [(s.ts_ms, s.hint) for s in merged] == [(4000, "box"), (9000, None)]


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_a_still_image_is_not_a_video(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"still.{fmt.lower()}"
    frame_image(RED, "ellipse", 0).save(path, fmt)
    with pytest.raises(NotAVideo, match="still image"):
        keyframes(path, PickConfig())
    renamed = path.rename(tmp_path / "still.mp4")  # the name does not matter, the content does
    with pytest.raises(NotAVideo):
        keyframes(renamed, PickConfig())
