"""Make small test videos with PyAV (no downloads): shots of flat colored shapes."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw

Shot = tuple[float, tuple[int, int, int], str]  # seconds, color, shape (ellipse | rectangle)


def background(color: tuple[int, int, int]) -> tuple[int, int, int]:
    """A pale tint of the shape's color: a new shot changes the whole frame, as a real cut does."""
    return tuple(int(235 - (235 - c) * 0.6) for c in color)  # type: ignore[return-value]


def frame_image(color: tuple[int, int, int], shape: str, i: int, side: int = 160) -> Image.Image:
    """One frame: a shape drifting slowly on a background tinted like it (motion inside a shot)."""
    img = Image.new("RGB", (side, side), background(color))
    off = i % 8
    getattr(ImageDraw.Draw(img), shape)((30 + off, 30, 130 + off, 130), fill=color)
    return img


def make_video(
    path: Path, shots: Sequence[Shot], fps: int = 10, side: int = 160, chapters: Sequence[tuple[int, str]] = ()
) -> Path:
    """Encode the shots one after another as an MPEG-4 file, with ``(start_ms, title)`` chapters if given."""
    with av.open(str(path), mode="w") as out:
        if chapters:
            ends = [start for start, _ in chapters[1:]] + [round(sum(s[0] for s in shots) * 1000)]
            out.set_chapters([
                {"id": i + 1, "start": start, "end": end, "time_base": Fraction(1, 1000), "metadata": {"title": title}}
                for i, ((start, title), end) in enumerate(zip(chapters, ends, strict=True))
            ])
        stream = out.add_stream("mpeg4", rate=fps)
        stream.width = stream.height = side
        stream.pix_fmt = "yuv420p"
        stream.bit_rate = 2_000_000
        i = 0
        for seconds, color, shape in shots:
            for _ in range(round(seconds * fps)):
                arr = np.asarray(frame_image(color, shape, i, side))
                for packet in stream.encode(av.VideoFrame.from_ndarray(arr, format="rgb24")):
                    out.mux(packet)
                i += 1
        for packet in stream.encode():
            out.mux(packet)
    return path
