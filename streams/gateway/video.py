"""Video files as a ``video`` domain stream: keyframes picked by scene change or a fixed rate (PyAV),
the sidecar transcript as ASR chunks, product switches from the container's chapters, a marker sidecar
or scene cuts, timestamps in milliseconds since the start of the video."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image

from streams.gateway.transcript import Cue
from streams.kafka.topics import TopicNames
from streams.schemas import AsrChunkRecord, KeyframeRecord, StreamEventRecord, dump_record
from streams.sdk.publish import Outgoing

HIST_BINS = 16
#: Container formats that hold one still image, not a video (FFmpeg's image demuxers).
STILL_FORMATS = ("image2", "gif_pipe")


class NotAVideo(ValueError):
    """A still image (JPEG, PNG, ...) or a file of one frame given where a video is expected."""


@dataclass(frozen=True)
class SwitchConfig:
    """Where a video moves to another product: each source adds product-switch events."""

    chapters: bool = True  # the container's chapters (title = product hint)
    scene: bool = False  # hard cuts: consecutive frames this far apart start a product segment
    scene_threshold: float = 0.2  # color-histogram distance (0..1) of a cut: the keyframe cut's default
    min_segment_ms: int = 3_000  # no two switches closer than this, nor this close to the start


@dataclass(frozen=True, order=True)
class Switch:
    """A product switch: ms since the start of the video, the product hint if one is known, and its source."""

    ts_ms: int
    hint: str | None = None
    source: str = "marker"  # chapter | marker | scene


@dataclass(frozen=True)
class PickConfig:
    """How keyframes are chosen from the decoded frames."""

    mode: Literal["scene", "rate"] = "scene"
    every_ms: int = 2_000  # rate mode: one frame per this many ms
    threshold: float = 0.2  # scene mode: histogram distance (0..1) that counts as a new shot
    min_gap_ms: int = 500  # scene mode: no two picks closer than this
    max_gap_ms: int = 5_000  # scene mode: a long shot still gets a frame this often
    max_frames: int = 200
    max_side: int = 640  # frames are shrunk to this longest side before JPEG encoding


@dataclass(frozen=True)
class PickedFrame:
    """A chosen frame: ms since the start of the video, JPEG bytes, and why it was chosen."""

    ts_ms: int
    jpeg: bytes
    reason: str


def _thumb(frame: Any) -> np.ndarray:
    """A 64×64 RGB array of a PIL image or a PyAV frame (scaled by FFmpeg: no full-size conversion)."""
    if isinstance(frame, Image.Image):
        return np.asarray(frame.convert("RGB").resize((64, 64)))
    return frame.to_ndarray(width=64, height=64, format="rgb24")


def _image(frame: Any) -> Image.Image:
    return frame if isinstance(frame, Image.Image) else frame.to_image()


def color_hist(frame: Any) -> np.ndarray:
    """Normalized per-channel color histogram of a small copy of the frame (PIL image or PyAV frame)."""
    a = _thumb(frame)
    h = np.concatenate([np.histogram(a[..., c], bins=HIST_BINS, range=(0, 256))[0] for c in range(3)]).astype(np.float64)
    return h / h.sum()


def hist_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Half the L1 distance of two normalized histograms (per channel, averaged): 0 same, 1 disjoint."""
    return float(np.abs(a - b).sum() / 2 / 3)


def pick(
    frames: Iterator[tuple[int, Any]], cfg: PickConfig, switches_at: Sequence[int] = ()
) -> list[tuple[int, Image.Image, str]]:
    """Choose frames from ``(ts_ms, frame)`` in time order (PIL images or PyAV frames): by scene change or
    at a fixed rate, and the first frame at or after each of ``switches_at`` (a product segment opens
    with its own keyframe). Only chosen frames are converted to full-size images."""
    out: list[tuple[int, Image.Image, str]] = []
    prev_hist, last_ms, due = None, None, 0
    pending = sorted(switches_at)
    for ts, img in frames:
        if len(out) >= cfg.max_frames:
            break
        switch = bool(pending) and ts >= pending[0]
        while pending and ts >= pending[0]:
            pending.pop(0)
        if cfg.mode == "rate":
            if ts >= due or switch:
                out.append((ts, _image(img), "rate" if ts >= due else "switch"))
                due = (ts // cfg.every_ms + 1) * cfg.every_ms
            continue
        h = color_hist(img)
        if last_ms is None:
            reason = "first"
        elif prev_hist is not None and hist_distance(h, prev_hist) >= cfg.threshold and ts - last_ms >= cfg.min_gap_ms:
            reason = "scene"
        elif ts - last_ms >= cfg.max_gap_ms:
            reason = "max_gap"
        else:
            reason = "switch" if switch else None
        prev_hist = h
        if reason:
            out.append((ts, _image(img), reason))
            last_ms = ts
    return out


def _refuse_still(path: Path, fmt: str) -> None:
    if fmt in STILL_FORMATS or fmt.endswith("_pipe"):
        raise NotAVideo(f"{path.name} is a still image ({fmt.removesuffix('_pipe')}), not a video")


def decode_frames(path: Path) -> Iterator[tuple[int, Any]]:
    """Every frame of the first video stream as (ms since start, PyAV frame); a still image, or a file of
    a single frame, is refused with :class:`NotAVideo`."""
    import av

    with av.open(str(path)) as container:
        _refuse_still(path, container.format.name)
        if not container.streams.video:
            raise ValueError(f"{path.name} has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        start, n = None, 0
        for frame in container.decode(stream):
            if frame.time is None:
                continue
            start = frame.time if start is None else start
            n += 1
            yield round((frame.time - start) * 1000), frame
        if n == 1:
            raise NotAVideo(f"{path.name} holds a single frame: a still image, not a video")


def chapter_switches(path: Path) -> list[Switch]:
    """The container's chapters (MP4, MKV, ...) as product switches, the chapter title as the hint."""
    import av

    with av.open(str(path)) as container:
        chapters = container.chapters()
    out = []
    for ch in chapters:
        title = (ch.get("metadata") or {}).get("title") or None
        out.append(Switch(round(ch["start"] * ch["time_base"] * 1000), title, "chapter"))
    return out


def marker_switches(cues: Sequence[Cue]) -> list[Switch]:
    """A marker sidecar (SRT / WebVTT): each cue's start is a product switch, its text the product hint."""
    return [Switch(c.start_ms, c.text.strip() or None, "marker") for c in cues]


def frame_distances(frames: Iterator[tuple[int, Any]], out: list[tuple[int, float]]) -> Iterator[tuple[int, Any]]:
    """Pass frames through, appending ``(ts_ms, histogram distance to the previous frame)`` to ``out``."""
    prev = None
    for ts, frame in frames:
        h = color_hist(frame)
        if prev is not None:
            out.append((ts, hist_distance(h, prev)))
        prev = h
        yield ts, frame


def scene_switches(distances: Sequence[tuple[int, float]], cfg: SwitchConfig) -> list[Switch]:
    """Hard cuts as product switches: a frame at least ``scene_threshold`` from the one before, at least
    ``min_segment_ms`` after the previous switch (and after the start)."""
    out: list[Switch] = []
    last = 0
    for ts, d in distances:
        if d >= cfg.scene_threshold and ts - last >= cfg.min_segment_ms:
            out.append(Switch(ts, None, "scene"))
            last = ts
    return out


def merge_switches(switches: Sequence[Switch], min_gap_ms: int) -> list[Switch]:
    """One switch per product change, in time order: none at the very start (the stream's first segment
    needs none), and of switches closer than ``min_gap_ms`` the first is kept, taking the hint of a later
    one when it has none (a scene cut beside a chapter that names the product)."""
    out: list[Switch] = []
    for sw in sorted(switches, key=lambda x: (x.ts_ms, x.source == "scene")):
        if sw.ts_ms <= 0:
            continue
        if out and sw.ts_ms - out[-1].ts_ms < min_gap_ms:
            if out[-1].hint is None and sw.hint:
                out[-1] = Switch(out[-1].ts_ms, sw.hint, out[-1].source)
            continue
        out.append(sw)
    return out


def to_jpeg(img: Image.Image, max_side: int, quality: int = 85) -> bytes:
    """Shrink to ``max_side`` and encode as JPEG."""
    img = img.convert("RGB")
    img.thumbnail((max_side, max_side))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def keyframes(path: Path, cfg: PickConfig) -> list[PickedFrame]:
    """Decode a video file and return its chosen keyframes as JPEG."""
    return analyze(path, cfg)[0]


def analyze(
    path: Path, cfg: PickConfig, switches: SwitchConfig | None = None, markers: Sequence[Cue] = ()
) -> tuple[list[PickedFrame], list[Switch]]:
    """Decode a video file once: its chosen keyframes as JPEG and its product switches (chapters, markers,
    scene cuts as ``switches`` asks)."""
    sw = switches or SwitchConfig(chapters=False)
    marked = marker_switches(markers) + (chapter_switches(path) if sw.chapters else [])
    distances: list[tuple[int, float]] = []
    frames = frame_distances(decode_frames(path), distances) if sw.scene else decode_frames(path)
    picked = pick(frames, cfg, [m.ts_ms for m in marked])
    if sw.scene:
        for _ in frames:  # pick stops at max_frames: the cuts after it still count
            pass
    found = merge_switches(marked + (scene_switches(distances, sw) if sw.scene else []), cfg.min_gap_ms)
    return [PickedFrame(ts, to_jpeg(img, cfg.max_side), why) for ts, img, why in picked], found


def video_messages(
    stream_id: str, frames: Sequence[PickedFrame], cues: Sequence[Cue], topics: TopicNames, switches: Sequence[Switch] = ()
) -> list[Outgoing]:
    """The messages of one short video in time order: start (domain video), product switches, ASR,
    keyframes, end. A switch goes before any content of the same time, so that content opens its segment."""
    key = stream_id.encode()
    out: list[Outgoing] = []

    def add(ts: int, topic: str, value: bytes) -> None:
        out.append(Outgoing(ts, len(out), topic, key, value))

    add(0, topics.events, dump_record(StreamEventRecord(stream_id=stream_id, ts_ms=0, type="start", domain="video")))
    for sw in switches:
        rec = StreamEventRecord(stream_id=stream_id, ts_ms=sw.ts_ms, type="product_switch", product_hint=sw.hint)
        add(sw.ts_ms, topics.events, dump_record(rec))
    for seq, c in enumerate(cues):
        rec = AsrChunkRecord(stream_id=stream_id, seq=seq, start_ms=c.start_ms, end_ms=c.end_ms, text=c.text)
        add(c.start_ms, topics.asr, dump_record(rec))
    for f in frames:
        rec = KeyframeRecord(stream_id=stream_id, ts_ms=f.ts_ms, image_b64=base64.b64encode(f.jpeg).decode())
        add(f.ts_ms, topics.keyframes, dump_record(rec))
    last = max([f.ts_ms for f in frames] + [c.end_ms for c in cues] + [sw.ts_ms for sw in switches] + [0])
    add(last + 1, topics.events, dump_record(StreamEventRecord(stream_id=stream_id, ts_ms=last + 1, type="end")))
    return sorted(out)
