"""A tiny self-made dataset for pipeline tests: distinct products, two live streams, noisy speech."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from encoders.dataset import AsrChunk, Dataset, Keyframe, MomentRecord, ProductRecord

PRODUCTS = [
    ("p-mug", "Ceramic Coffee Mug", "kitchen", {"color": "red", "material": "ceramic"}, (200, 30, 30), "ellipse"),
    ("p-shoe", "Canvas Running Shoe", "shoes", {"color": "blue", "material": "canvas"}, (30, 60, 200), "rectangle"),
    ("p-lamp", "Brass Desk Lamp", "home", {"color": "yellow", "material": "brass"}, (220, 200, 40), "pieslice"),
    ("p-bag", "Leather Tote Bag", "bags", {"color": "brown", "material": "leather"}, (120, 70, 30), "polygon"),
]


def _photo(color: tuple[int, int, int], shape: str, rng: np.random.Generator, jitter: bool) -> Image.Image:
    img = Image.new("RGB", (160, 160), (235, 235, 235))
    d = ImageDraw.Draw(img)
    off = int(rng.integers(-12, 12)) if jitter else 0
    box = (30 + off, 30 + off, 130 + off, 130 + off)
    if shape == "polygon":
        d.polygon([(80 + off, 25), (135, 130 + off), (25, 130 + off)], fill=color)
    elif shape == "pieslice":
        d.pieslice(box, 20, 320, fill=color)
    else:
        getattr(d, shape)(box, fill=color)
    if jitter:
        a = np.asarray(img).astype(np.int16) + rng.integers(-20, 20, (160, 160, 3))
        img = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))
    return img


def make_mini_dataset(root: Path, seed: int = 7, seconds_per_product: int = 14) -> Dataset:
    """Write 4 products, 2 live streams (2 products each, product switches mid-stream) and 1 short video."""
    rng = np.random.default_rng(seed)
    rnd = random.Random(seed)
    (root / "images").mkdir(parents=True, exist_ok=True)
    products = []
    for pid, title, cat, attrs, color, shape in PRODUCTS:
        rel = f"images/{pid}.jpg"
        _photo(color, shape, rng, jitter=False).save(root / rel, quality=90)
        products.append(ProductRecord(pid, title, f"A {attrs['color']} {title.lower()}.", cat, "Acme", attrs, [rel]))
    moments = []
    for s, pair in enumerate([(0, 1), (2, 3)]):
        t = 0
        for i in pair:
            pid, title, _, attrs, color, shape = PRODUCTS[i]
            asr, frames = [], []
            words = f"hi everyone um look at this {attrs['color']} {title.lower()} it is {attrs['material']} uh really nice".split()
            for k in range(0, seconds_per_product * 1000, 2000):
                rnd.shuffle(words) if rnd.random() < 0.2 else None
                asr.append(AsrChunk(t + k, t + k + 1800, " ".join(words[: rnd.randint(5, len(words))])))
            for k in range(500, seconds_per_product * 1000, 3000):
                rel = f"images/s{s}_{pid}_{k}.jpg"
                _photo(color, shape, rng, jitter=True).save(root / rel, quality=70)
                frames.append(Keyframe(t + k, rel))
            moments.append(MomentRecord(f"live-{s}-{pid}", "live", f"live-{s}", pid, asr, frames))
            t += seconds_per_product * 1000
    pid, title, _, attrs, color, shape = PRODUCTS[1]
    rel = "images/video-0.jpg"
    _photo(color, shape, rng, jitter=True).save(root / rel, quality=80)
    moments.append(
        MomentRecord("video-0", "video", "video-0", pid, [AsrChunk(0, 3000, f"new {attrs['color']} {title.lower()}")], [Keyframe(1000, rel)])
    )
    ds = Dataset(root, products, moments)
    ds.save()
    return ds
