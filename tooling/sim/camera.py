"""What a stream camera makes of a product photo: framing, perspective, light, blur, occlusion, JPEG.

All randomness comes from one ``numpy.random.Generator``, so the same seed gives the same bytes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

FRAME_PX = 256


@dataclass(frozen=True)
class CameraStyle:
    """Ranges of the camera effects for one domain."""

    zoom: tuple[float, float]          # share of the photo kept by the crop (1 = whole photo)
    scale: tuple[float, float]         # product size relative to the frame
    tilt: float                        # perspective corner jitter, share of the side
    rotate: float                      # degrees
    light: tuple[float, float]         # brightness factor
    contrast: tuple[float, float]
    white_balance: float               # per-channel gain jitter
    blur: tuple[float, float]          # Gaussian radius in px
    noise: tuple[float, float]         # sensor noise sigma (0-255 scale)
    occlusion: float                   # probability of a hand / banner in front
    jpeg: tuple[int, int]              # JPEG quality


LIVE_CAMERA = CameraStyle(
    zoom=(0.6, 1.0), scale=(0.55, 0.95), tilt=0.12, rotate=8, light=(0.6, 1.35), contrast=(0.7, 1.25),
    white_balance=0.12, blur=(0.0, 2.2), noise=(2, 10), occlusion=0.5, jpeg=(30, 70),
)
VIDEO_CAMERA = CameraStyle(
    zoom=(0.8, 1.0), scale=(0.7, 0.95), tilt=0.05, rotate=3, light=(0.85, 1.15), contrast=(0.9, 1.1),
    white_balance=0.05, blur=(0.0, 0.8), noise=(0, 3), occlusion=0.15, jpeg=(60, 85),
)


def _u(rng: np.random.Generator, lo_hi: tuple[float, float]) -> float:
    return float(rng.uniform(*lo_hi))


def background(rng: np.random.Generator, px: int = FRAME_PX) -> Image.Image:
    """A studio-like backdrop: a flat wall, a gradient or shelves, with a little texture."""
    kind = int(rng.integers(3))
    base = rng.integers(40, 230, size=3)
    if kind == 0:
        arr = np.broadcast_to(base, (px, px, 3)).astype(np.float32)
    elif kind == 1:
        other = rng.integers(40, 230, size=3)
        ramp = np.linspace(0, 1, px, dtype=np.float32)[:, None, None]
        arr = np.broadcast_to(base * (1 - ramp) + other * ramp, (px, px, 3)).astype(np.float32)
    else:
        arr = np.broadcast_to(base, (px, px, 3)).astype(np.float32).copy()
        step = int(rng.integers(40, 90))
        for y in range(int(rng.integers(10, step)), px, step):
            arr[y : y + 6] *= 0.55
    arr = arr + 6 * rng.standard_normal(size=(px, px, 1), dtype=np.float32)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


def _perspective_coeffs(src: list[tuple[float, float]], dst: list[tuple[float, float]]) -> list[float]:
    """Coefficients for ``Image.transform(PERSPECTIVE)`` mapping ``dst`` corners back to ``src``."""
    rows = []
    for (x, y), (u, v) in zip(dst, src):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
    a = np.array(rows, dtype=np.float64)
    b = np.array([c for pt in src for c in pt], dtype=np.float64)
    return np.linalg.solve(a, b).tolist()


def _occlude(img: Image.Image, rng: np.random.Generator) -> None:
    draw = ImageDraw.Draw(img)
    w, h = img.size
    if rng.random() < 0.6:  # a hand coming in from an edge
        skin = tuple(int(c) for c in rng.choice([[224, 172, 105], [198, 134, 66], [141, 85, 36], [255, 219, 172]]))
        cx = float(rng.choice([rng.uniform(-0.1, 0.25), rng.uniform(0.75, 1.1)])) * w
        cy = float(rng.uniform(0.4, 1.1)) * h
        r = float(rng.uniform(0.12, 0.25)) * w
        draw.ellipse([cx - r, cy - r * 1.3, cx + r, cy + r * 1.3], fill=skin)
    else:  # a price banner / sticker overlay
        y0 = float(rng.uniform(0.7, 0.88)) * h
        color = tuple(int(c) for c in rng.integers(0, 255, size=3))
        draw.rectangle([0, y0, w, y0 + float(rng.uniform(0.06, 0.12)) * h], fill=color)


def shoot(photo: Image.Image, rng: np.random.Generator, style: CameraStyle, px: int = FRAME_PX) -> bytes:
    """One JPEG keyframe of ``photo`` as the camera sees it."""
    photo = photo.convert("RGB")
    w, h = photo.size
    keep = _u(rng, style.zoom)
    cw, ch = w * keep, h * keep
    x0, y0 = float(rng.uniform(0, w - cw)), float(rng.uniform(0, h - ch))
    crop = photo.crop((int(x0), int(y0), int(x0 + cw), int(y0 + ch)))
    side = int(px * _u(rng, style.scale))
    ratio = crop.width / crop.height
    tw, th = (side, max(1, int(side / ratio))) if ratio >= 1 else (max(1, int(side * ratio)), side)
    crop = crop.resize((tw, th), Image.Resampling.BILINEAR)
    ox, oy = float(rng.uniform(0, px - tw)), float(rng.uniform(0, px - th))
    jitter = lambda: float(rng.uniform(-style.tilt, style.tilt)) * side
    dst = [(ox + jitter(), oy + jitter()), (ox + tw + jitter(), oy + jitter()),
           (ox + tw + jitter(), oy + th + jitter()), (ox + jitter(), oy + th + jitter())]
    src = [(0, 0), (tw, 0), (tw, th), (0, th)]
    coeffs = _perspective_coeffs(src, dst)
    warped = crop.transform((px, px), Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BILINEAR)
    mask = Image.new("L", crop.size, 255).transform((px, px), Image.Transform.PERSPECTIVE, coeffs)
    frame = background(rng, px)
    frame.paste(warped, (0, 0), mask)
    frame = frame.rotate(float(rng.uniform(-style.rotate, style.rotate)), Image.Resampling.BILINEAR)
    frame = ImageEnhance.Brightness(frame).enhance(_u(rng, style.light))
    frame = ImageEnhance.Contrast(frame).enhance(_u(rng, style.contrast))
    if rng.random() < style.occlusion:
        _occlude(frame, rng)
    gains = 1 + rng.uniform(-style.white_balance, style.white_balance, size=3)
    arr = np.asarray(frame, dtype=np.float32) * gains
    arr += _u(rng, style.noise) * rng.standard_normal(size=arr.shape, dtype=np.float32)
    frame = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")
    radius = _u(rng, style.blur)
    if radius > 0.3:
        frame = frame.filter(ImageFilter.GaussianBlur(radius))
    buf = io.BytesIO()
    frame.save(buf, "JPEG", quality=int(rng.integers(style.jpeg[0], style.jpeg[1] + 1)))
    return buf.getvalue()
