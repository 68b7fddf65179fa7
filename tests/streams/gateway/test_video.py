from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from streams.gateway.transcript import Cue
from streams.gateway.video import PickConfig, keyframes, pick, video_messages
from streams.schemas import AsrChunkRecord, KeyframeRecord, StreamEventRecord, parse_record
from streams.topics import TopicNames
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
