"""Seeded live-stream simulator: catalog products → streams a host presents one after another.

Each live stream shows 4–6 products in a row. A segment (one :class:`MomentRecord`) has the host's
noisy speech about its product (plus greetings, banter, transitions, promos and mentions of other
products) and 2–6 camera keyframes. Short videos are single, shorter and cleaner moments. Times are
milliseconds from the start of the moment's stream; one stream's segments follow each other without
overlap. The same seed writes the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from encoders.dataset import AsrChunk, Dataset, Keyframe, MomentRecord, ProductRecord
from tooling.sim import speech
from tooling.sim.asr_noise import LIVE_NOISE, VIDEO_NOISE, NoiseLevel, chunk_words, corrupt
from tooling.sim.camera import LIVE_CAMERA, VIDEO_CAMERA, CameraStyle, shoot
from tooling.sim.catalog import SOURCES, catalog_dir, load_catalog
from tooling.sim.products import GalleryConfig, build_gallery

GENERATOR_VERSION = "sim-v1"


@dataclass(frozen=True)
class SimulationConfig:
    """What to simulate; every field is recorded in ``dataset.json``."""

    seed: int = 7
    source: str = "vendure"
    live_per_product: int = 2
    """Live segments per product (each in a different pass over the shuffled gallery)."""
    video_per_product: int = 1
    streams: int | None = None
    """Keep only the first N live streams (and videos of their products): a small demo set."""
    products_per_stream: tuple[int, int] = (4, 6)
    live_keyframes: tuple[int, int] = (2, 6)
    video_keyframes: tuple[int, int] = (2, 3)
    promo_rate: float = 0.5
    banter_rate: float = 0.6
    referral_rate: float = 0.3
    test_fraction: float = 0.3


def _seed_of(*parts: object) -> int:
    return int(hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:16], 16)


class _Photos:
    """Product photos opened once."""

    def __init__(self, root: Path, products: list[ProductRecord]):
        self._root = root
        self._by_id = {p.product_id: p for p in products}
        self._cache: dict[str, Image.Image] = {}

    def of(self, product_id: str) -> Image.Image:
        rel = self._by_id[product_id].images[0]
        if rel not in self._cache:
            with Image.open(self._root / rel) as im:
                self._cache[rel] = im.convert("RGB")
        return self._cache[rel]


def plan_streams(products: list[ProductRecord], config: SimulationConfig) -> list[list[ProductRecord]]:
    """Live streams as lists of products, each pass over the gallery in a new seeded order."""
    rng = random.Random(_seed_of(config.seed, "plan"))
    streams: list[list[ProductRecord]] = []
    for _ in range(config.live_per_product):
        order = sorted(products, key=lambda p: p.product_id)
        rng.shuffle(order)
        i = 0
        while i < len(order):
            n = rng.randint(*config.products_per_stream)
            streams.append(order[i : i + n])
            i += n
    return streams[: config.streams] if config.streams else streams


def _keyframes(
    moment_id: str, product_id: str, start: int, end: int, n_range: tuple[int, int], style: CameraStyle,
    photos: _Photos, out: Path, seed: int,
) -> list[Keyframe]:
    rng = np.random.default_rng(_seed_of(seed, moment_id, "camera"))
    n = int(rng.integers(n_range[0], n_range[1] + 1))
    times = sorted(int(t) for t in rng.uniform(start, max(start + 1, end), size=n))
    times = [min(t, end) for t in times]
    frames = []
    for i, ts in enumerate(times):
        rel = f"images/moments/{moment_id}/{i}.jpg"
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_bytes(shoot(photos.of(product_id), rng, style))
        frames.append(Keyframe(ts_ms=ts, path=rel))
    return frames


def _spoken(lines: list[str], rng: random.Random, noise: NoiseLevel) -> list[list[str]]:
    return [words for words in (corrupt(line, rng, noise) for line in lines) if words]


def simulate_live_stream(
    stream_id: str, products: list[ProductRecord], photos: _Photos, out: Path, config: SimulationConfig
) -> list[MomentRecord]:
    """One live stream: a greeting, then one segment per product, back to back."""
    moments = []
    t = 0
    for j, product in enumerate(products):
        moment_id = f"{stream_id}-s{j:02d}"
        rng = random.Random(_seed_of(config.seed, moment_id, "speech"))
        lines: list[str] = []
        if j == 0:
            lines.append(speech.greeting(rng))
        else:
            lines.append(speech.transition(rng))
        talk = speech.product_lines(product, rng, mention_price=rng.random() < config.promo_rate)
        if rng.random() < config.banter_rate:
            talk.insert(rng.randint(1, len(talk)), speech.banter(rng))
        if j > 0 and rng.random() < config.referral_rate:
            talk.insert(rng.randint(1, len(talk)), speech.referral(products[j - 1], rng))
        lines += talk
        asr, end = chunk_words(_spoken(lines, rng, LIVE_NOISE), t, rng)
        keyframes = _keyframes(moment_id, product.product_id, asr[0].start_ms, asr[-1].end_ms, config.live_keyframes,
                               LIVE_CAMERA, photos, out, config.seed)
        moments.append(MomentRecord(moment_id, "live", stream_id, product.product_id, asr, keyframes, product.split))
        t = end + rng.randint(300, 2500)
    return moments


def simulate_video(video_id: str, product: ProductRecord, photos: _Photos, out: Path, config: SimulationConfig) -> MomentRecord:
    """One short product video: a few clean lines, a few steady frames."""
    rng = random.Random(_seed_of(config.seed, video_id, "speech"))
    asr, _ = chunk_words(_spoken(speech.video_lines(product, rng), rng, VIDEO_NOISE), 0, rng)
    keyframes = _keyframes(video_id, product.product_id, asr[0].start_ms, asr[-1].end_ms, config.video_keyframes, VIDEO_CAMERA,
                           photos, out, config.seed)
    return MomentRecord(video_id, "video", video_id, product.product_id, asr, keyframes, product.split)


def simulate(
    home: Path, out: Path, config: SimulationConfig = SimulationConfig(),
    progress: Callable[[int, int], None] | None = None,
) -> Dataset:
    """Build the gallery from the cached catalog and write a simulated dataset to ``out``."""
    source = SOURCES[config.source]
    items = load_catalog(home, config.source)
    label = f"{source.registry}:{source.package}@{source.version}"
    products = build_gallery(items, catalog_dir(home, config.source) / "images", out, label,
                             GalleryConfig(test_fraction=config.test_fraction))
    photos = _Photos(out, products)
    plan = plan_streams(products, config)
    shown = sorted({p.product_id for s in plan for p in s})
    videos = [p for p in products if p.product_id in set(shown)] if config.streams else products
    total = len(plan) + len(videos) * config.video_per_product
    done = 0
    moments: list[MomentRecord] = []
    for i, stream in enumerate(plan):
        moments += simulate_live_stream(f"live-{i:03d}", stream, photos, out, config)
        done += 1
        if progress:
            progress(done, total)
    for k in range(config.video_per_product):
        for p in videos:
            moments.append(simulate_video(f"video-{p.product_id}-{k}", p, photos, out, config))
            done += 1
            if progress:
                progress(done, total)
    dataset = Dataset(root=out, products=products, moments=moments)
    dataset.save()
    meta = {
        "generator": GENERATOR_VERSION,
        "config": asdict(config),
        "catalog": {k: v for k, v in asdict(source).items() if k not in ("csv_member", "images_member")},
        "counts": _counts(dataset),
    }
    (out / "dataset.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return dataset


def _counts(ds: Dataset) -> dict:
    return {
        "products": len(ds.products),
        "products_test": sum(p.split == "test" for p in ds.products),
        "derived": sum(bool(p.derived) for p in ds.products),
        "groups": len({p.group for p in ds.products}),
        "live_moments": sum(m.domain == "live" for m in ds.moments),
        "video_moments": sum(m.domain == "video" for m in ds.moments),
        "live_streams": len({m.stream_id for m in ds.moments if m.domain == "live"}),
        "keyframes": sum(len(m.keyframes) for m in ds.moments),
        "asr_chunks": sum(len(m.asr) for m in ds.moments),
    }


__all__ = ["AsrChunk", "SimulationConfig", "plan_streams", "simulate"]
