"""Keyframe handling: decode, shrink, score sharpness, and pick at most N sharp, diverse frames."""

from __future__ import annotations

import base64
import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, UnidentifiedImageError

from streams.schemas import BadRecord

THUMB_SIDE = 320
HIST_BINS = 4


@dataclass(frozen=True)
class FrameCandidate:
    """A shrunken keyframe with the scores used to choose among frames."""

    ts_ms: int
    jpeg_b64: str
    sharpness: float
    hist: tuple[float, ...]

    def to_dict(self) -> dict:
        return {"ts_ms": self.ts_ms, "jpeg_b64": self.jpeg_b64, "sharpness": self.sharpness, "hist": list(self.hist)}

    @classmethod
    def from_dict(cls, d: dict) -> FrameCandidate:
        return cls(d["ts_ms"], d["jpeg_b64"], float(d["sharpness"]), tuple(d["hist"]))


#: Formats a keyframe or product photo may have (no EPS/PDF and other plugins that run external tools).
IMAGE_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP")
DEFAULT_MAX_PIXELS = 40_000_000


def decode_image(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Decode JPEG/PNG/WebP/GIF/BMP bytes into an RGB image, or raise BadRecord.

    The pixel count is checked from the header before any pixel is decoded (decompression bombs).
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=IMAGE_FORMATS)
            w, h = img.size
            if w * h > max_pixels:
                raise BadRecord(f"image of {w}x{h} pixels exceeds the limit of {max_pixels} pixels")
            img.load()
            return img.convert("RGB")
    except BadRecord:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise BadRecord(f"image exceeds the pixel limit: {exc}") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError, MemoryError) as exc:
        raise BadRecord(f"undecodable image: {str(exc)[:200]}") from None


def sharpness(img: Image.Image) -> float:
    """Variance of a 4-neighbour Laplacian on a 128-px grayscale copy (higher = sharper)."""
    g = np.asarray(img.convert("L").resize((128, 128)), dtype=np.float32)
    lap = -4 * g[1:-1, 1:-1] + g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:]
    return float(lap.var())


def color_histogram(img: Image.Image) -> tuple[float, ...]:
    """Normalized joint RGB histogram (HIST_BINS per channel) of a 64-px copy."""
    a = np.asarray(img.resize((64, 64)), dtype=np.int32) * HIST_BINS // 256
    idx = a[..., 0] * HIST_BINS * HIST_BINS + a[..., 1] * HIST_BINS + a[..., 2]
    h = np.bincount(idx.ravel(), minlength=HIST_BINS**3).astype(np.float64)
    h /= h.sum()
    return tuple(round(float(x), 5) for x in h)


def make_candidate(ts_ms: int, img: Image.Image, *, side: int = THUMB_SIDE) -> FrameCandidate:
    """Shrink a frame to at most ``side`` px and score it."""
    thumb = img.copy()
    thumb.thumbnail((side, side))
    buf = io.BytesIO()
    thumb.save(buf, format="JPEG", quality=85)
    return FrameCandidate(ts_ms, base64.b64encode(buf.getvalue()).decode("ascii"), sharpness(thumb), color_histogram(thumb))


def _hist_distance(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Total-variation distance between two histograms, in [0, 1]."""
    return 0.5 * float(np.abs(np.asarray(a) - np.asarray(b)).sum())


def select_keyframes(cands: list[FrameCandidate], n: int) -> list[FrameCandidate]:
    """Greedy max-min choice: the sharpest frame first, then each next frame maximizes
    (relative sharpness) x (distance to the closest frame already chosen). Result in time order."""
    if n <= 0 or not cands:
        return []
    if len(cands) <= n:
        return sorted(cands, key=lambda c: c.ts_ms)
    top = max(c.sharpness for c in cands) or 1.0
    chosen = [max(cands, key=lambda c: (c.sharpness, -c.ts_ms))]
    rest = [c for c in cands if c is not chosen[0]]
    while len(chosen) < n and rest:
        def gain(c: FrameCandidate) -> tuple[float, int]:
            novelty = min(_hist_distance(c.hist, s.hist) for s in chosen)
            # 1e-3 keeps sharpness as the tie-breaker when all frames look alike
            return ((c.sharpness / top) * (novelty + 1e-3), -c.ts_ms)

        best = max(rest, key=gain)
        chosen.append(best)
        rest.remove(best)
    return sorted(chosen, key=lambda c: c.ts_ms)
