"""Name the dominant colour of a product photo and recolour photos for derived colour variants."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageOps

# Hue ranges in degrees [start, end) and their everyday names.
_HUE_NAMES: list[tuple[float, float, str]] = [
    (0, 15, "red"),
    (15, 40, "orange"),
    (40, 68, "yellow"),
    (68, 160, "green"),
    (160, 195, "teal"),
    (195, 255, "blue"),
    (255, 290, "purple"),
    (290, 335, "pink"),
    (335, 360, "red"),
]

COLOR_WORDS = {
    "red", "orange", "yellow", "green", "teal", "blue", "purple", "pink", "black", "white", "gray",
    "grey", "brown", "beige", "mustard", "mint", "pearl", "silver", "gold",
}

# Tint targets for photos with too little colour to rotate (RGB of a mid tone).
TINTS: dict[str, tuple[int, int, int]] = {
    "red": (200, 40, 40),
    "green": (50, 160, 70),
    "blue": (40, 80, 200),
    "purple": (130, 60, 170),
    "orange": (230, 130, 30),
}


def _hsv(img: Image.Image) -> np.ndarray:
    small = img.convert("RGB").resize((64, 64))
    return np.asarray(small.convert("HSV"), dtype=np.float32) / 255.0


def hue_name(degrees: float) -> str:
    """Everyday name of a hue angle."""
    d = degrees % 360
    for lo, hi, name in _HUE_NAMES:
        if lo <= d < hi:
            return name
    return "red"


def dominant_color(img: Image.Image) -> str:
    """The colour a viewer would name for the photo's centre: a hue name, or black/gray/white."""
    hsv = _hsv(img)[12:52, 12:52].reshape(-1, 3)
    h, s, v = hsv[:, 0], hsv[:, 1], hsv[:, 2]
    chroma = (s > 0.3) & (v > 0.25)
    if chroma.mean() < 0.15:
        mean_v = float(v.mean())
        return "black" if mean_v < 0.3 else "white" if mean_v > 0.75 else "gray"
    hist, edges = np.histogram(h[chroma] * 360.0, bins=36, range=(0, 360))
    peak = int(hist.argmax())
    return hue_name((edges[peak] + edges[peak + 1]) / 2)


def is_colorful(img: Image.Image) -> bool:
    """True when enough of the photo is saturated for a hue rotation to change its colour."""
    hsv = _hsv(img).reshape(-1, 3)
    return float(((hsv[:, 1] > 0.3) & (hsv[:, 2] > 0.25)).mean()) > 0.15


def rotate_hue(img: Image.Image, degrees: float) -> Image.Image:
    """The photo with every hue turned by ``degrees`` (saturation and brightness kept)."""
    hsv = np.asarray(img.convert("RGB").convert("HSV"), dtype=np.uint16).copy()
    hsv[..., 0] = (hsv[..., 0] + round(degrees / 360 * 255)) % 256
    return Image.fromarray(hsv.astype(np.uint8), "HSV").convert("RGB")


def tint(img: Image.Image, rgb: tuple[int, int, int], strength: float = 0.55) -> Image.Image:
    """The photo washed with one colour (for greyish products a hue rotation cannot change)."""
    rgb_img = img.convert("RGB")
    toned = ImageOps.colorize(ImageOps.grayscale(rgb_img), black=(10, 10, 10), mid=rgb, white=(245, 245, 245))
    return Image.blend(rgb_img, toned, strength)
