"""Keyframe handling: decode, shrink, score sharpness, and pick at most N sharp, diverse frames."""

from __future__ import annotations

import base64
import io
import math
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from PIL import Image, UnidentifiedImageError

from streams.schemas import BadImage, BadRecord, TooLarge

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
DEFAULT_MAX_BATCH_PIXELS = 64_000_000


@contextmanager
def _image_errors() -> Iterator[None]:
    """Turn PIL's failures (bombs, unknown or broken data) into BadRecord."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except BadRecord:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise TooLarge(f"image exceeds the pixel limit: {exc}") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError, MemoryError) as exc:
        raise BadImage(f"undecodable image: {str(exc)[:200]}") from None


def _open(data: bytes, max_pixels: int) -> Image.Image:
    """The lazily opened image (header read, no pixel decoded), refused past ``max_pixels``."""
    img = Image.open(io.BytesIO(data), formats=IMAGE_FORMATS)
    w, h = img.size
    if w * h > max_pixels:
        raise TooLarge(f"image of {w}x{h} pixels exceeds the limit of {max_pixels} pixels")
    return img


def image_size(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[int, int]:
    """(width, height) from the header alone, or BadRecord (not an allowed image, past ``max_pixels``)."""
    with _image_errors():
        return _open(data, max_pixels).size


def _shrink(img: Image.Image, side: int) -> Image.Image:
    """Decode ``img`` so its short side ends near ``side`` (never below): a JPEG is decoded scaled down
    (``draft``), other formats are reduced right after decoding and the full-size pixels released."""
    w, h = img.size
    scale = side / min(w, h)
    target = (max(side, math.ceil(w * scale)), max(side, math.ceil(h * scale)))
    if img.format == "JPEG":
        img.draft("RGB", target)  # DCT scaling by 1/2 .. 1/8, never below target
    img.load()
    if img.mode in ("1", "P"):  # resampled only as grey levels or colours (not palette indices)
        img = img.convert("L" if img.mode == "1" else "RGB")
    return img.resize(target, Image.Resampling.BICUBIC, reducing_gap=2.0)


def decode_image(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS, shrink_to: int | None = None) -> Image.Image:
    """Decode JPEG/PNG/WebP/GIF/BMP bytes into an RGB image, or raise BadRecord.

    The pixel count is checked from the header before any pixel is decoded (decompression bombs).
    With ``shrink_to``, an image whose short side is longer is decoded down to that short side, so the
    full-size pixels are never kept (JPEG: never decoded).
    """
    with _image_errors():
        img = _open(data, max_pixels)
        if shrink_to and min(img.size) > shrink_to:
            img = _shrink(img, shrink_to)
        else:
            img.load()
        return img.convert("RGB")


def check_pixel_budget(datas: Sequence[bytes], max_pixels: int, max_total_pixels: int) -> None:
    """Raise BadRecord, before any pixel is decoded, when one image is past ``max_pixels`` or all of
    them together are past ``max_total_pixels`` (AMPERE_MAX_BATCH_PIXELS)."""
    total = 0
    for data in datas:
        w, h = image_size(data, max_pixels)
        total += w * h
    if total > max_total_pixels:
        raise TooLarge(
            f"images of {total} pixels in one message exceed the pixel budget of {max_total_pixels} "
            "pixels (AMPERE_MAX_BATCH_PIXELS)"
        )


def decode_images(
    datas: Sequence[bytes],
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_total_pixels: int = DEFAULT_MAX_BATCH_PIXELS,
    shrink_to: int | None = None,
) -> list[Image.Image]:
    """The images of one message: :func:`check_pixel_budget`, then :func:`decode_image` one by one."""
    check_pixel_budget(datas, max_pixels, max_total_pixels)
    return [decode_image(d, max_pixels, shrink_to) for d in datas]


#: Side of the square copy a frame is scored on (box-filtered: one cheap resample serves both scores).
SCORE_SIDE = 128


def _score_copy(img: Image.Image) -> Image.Image:
    """A ``SCORE_SIDE`` square RGB copy, box-filtered (a box average is several times cheaper than the
    bicubic resample and keeps what both scores need: edges at this scale, colour proportions)."""
    return img.convert("RGB").resize((SCORE_SIDE, SCORE_SIDE), Image.Resampling.BOX)


def _sharpness_of(small: Image.Image) -> float:
    g = np.asarray(small.convert("L"), dtype=np.float32)
    lap = -4 * g[1:-1, 1:-1] + g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:]
    return float(lap.var())


def _histogram_of(small: Image.Image) -> tuple[float, ...]:
    a = (np.asarray(small, dtype=np.uint16) * HIST_BINS) >> 8
    idx = (a[..., 0] * HIST_BINS + a[..., 1]) * HIST_BINS + a[..., 2]
    h = np.bincount(idx.ravel(), minlength=HIST_BINS**3).astype(np.float64)
    h /= h.sum()
    return tuple(round(float(x), 5) for x in h)


def sharpness(img: Image.Image) -> float:
    """Variance of a 4-neighbour Laplacian on a 128-px grayscale copy (higher = sharper)."""
    return _sharpness_of(_score_copy(img))


def color_histogram(img: Image.Image) -> tuple[float, ...]:
    """Normalized joint RGB histogram (HIST_BINS per channel) of a 128-px copy."""
    return _histogram_of(_score_copy(img))


def make_candidate(ts_ms: int, img: Image.Image, *, side: int = THUMB_SIDE) -> FrameCandidate:
    """Shrink a frame to at most ``side`` px and score it (both scores from one small copy)."""
    thumb = img.copy()
    thumb.thumbnail((side, side))
    buf = io.BytesIO()
    thumb.save(buf, format="JPEG", quality=85)
    small = _score_copy(thumb)
    return FrameCandidate(ts_ms, base64.b64encode(buf.getvalue()).decode("ascii"), _sharpness_of(small), _histogram_of(small))


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
