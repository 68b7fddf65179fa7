"""Video files as a ``video`` domain stream: keyframes picked by scene change or a fixed rate (PyAV),
the sidecar transcript as ASR chunks, timestamps in milliseconds since the start of the video."""

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
from streams.publish import Outgoing
from streams.schemas import AsrChunkRecord, KeyframeRecord, StreamEventRecord, dump_record
from streams.topics import TopicNames

HIST_BINS = 16


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


def pick(frames: Iterator[tuple[int, Any]], cfg: PickConfig) -> list[tuple[int, Image.Image, str]]:
    """Choose frames from ``(ts_ms, frame)`` in time order (PIL images or PyAV frames): by scene change or
    at a fixed rate. Only chosen frames are converted to full-size images."""
    out: list[tuple[int, Image.Image, str]] = []
    prev_hist, last_ms, due = None, None, 0
    for ts, img in frames:
        if len(out) >= cfg.max_frames:
            break
        if cfg.mode == "rate":
            if ts >= due:
                out.append((ts, _image(img), "rate"))
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
            reason = None
        prev_hist = h
        if reason:
            out.append((ts, _image(img), reason))
            last_ms = ts
    return out


def decode_frames(path: Path) -> Iterator[tuple[int, Any]]:
    """Every frame of the first video stream as (ms since start, PyAV frame)."""
    import av

    with av.open(str(path)) as container:
        if not container.streams.video:
            raise ValueError(f"{path.name} has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        start = None
        for frame in container.decode(stream):
            if frame.time is None:
                continue
            start = frame.time if start is None else start
            yield round((frame.time - start) * 1000), frame


def to_jpeg(img: Image.Image, max_side: int, quality: int = 85) -> bytes:
    """Shrink to ``max_side`` and encode as JPEG."""
    img = img.convert("RGB")
    img.thumbnail((max_side, max_side))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def keyframes(path: Path, cfg: PickConfig) -> list[PickedFrame]:
    """Decode a video file and return its chosen keyframes as JPEG."""
    return [PickedFrame(ts, to_jpeg(img, cfg.max_side), why) for ts, img, why in pick(decode_frames(path), cfg)]


def video_messages(stream_id: str, frames: Sequence[PickedFrame], cues: Sequence[Cue], topics: TopicNames) -> list[Outgoing]:
    """The messages of one short video in time order: start (domain video), ASR, keyframes, end."""
    key = stream_id.encode()
    out: list[Outgoing] = []

    def add(ts: int, topic: str, value: bytes) -> None:
        out.append(Outgoing(ts, len(out), topic, key, value))

    add(0, topics.events, dump_record(StreamEventRecord(stream_id=stream_id, ts_ms=0, type="start", domain="video")))
    for seq, c in enumerate(cues):
        rec = AsrChunkRecord(stream_id=stream_id, seq=seq, start_ms=c.start_ms, end_ms=c.end_ms, text=c.text)
        add(c.start_ms, topics.asr, dump_record(rec))
    for f in frames:
        rec = KeyframeRecord(stream_id=stream_id, ts_ms=f.ts_ms, image_b64=base64.b64encode(f.jpeg).decode())
        add(f.ts_ms, topics.keyframes, dump_record(rec))
    last = max([f.ts_ms for f in frames] + [c.end_ms for c in cues] + [0])
    add(last + 1, topics.events, dump_record(StreamEventRecord(stream_id=stream_id, ts_ms=last + 1, type="end")))
    return sorted(out)
