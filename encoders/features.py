"""Frozen-backbone features, cached on disk and content-addressed.

Image features are keyed by the sha256 of the image bytes, text features by the sha256 of the text;
each store lives in ``<models_home>/features/<backbone key>.npz`` where the key covers the backbone
weight file's sha256 and the preprocessing, so a different backbone never reuses stale features.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from encoders.backbones import build_text_backbone, build_visual_backbone
from encoders.config import TextConfig, VisualConfig
from encoders.preprocess import TextTokenizer, preprocess_images
from encoders.registry import default_models_home, resolve

Progress = Callable[[int, int], None]


def backbone_key(cfg: VisualConfig | TextConfig) -> str:
    """Stable key of a backbone + its preprocessing."""
    return hashlib.sha256(json.dumps(asdict(cfg), sort_keys=True).encode()).hexdigest()[:16]


class FeatureStore:
    """A content-addressed ``sha256 -> feature vector`` map persisted as one ``.npz``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict[str, np.ndarray] = {}
        if path.is_file():
            with np.load(path) as npz:
                self.data = {k: npz[k] for k in npz.files}

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.stem + ".partial.npz")
        np.savez(tmp, **self.data)
        tmp.replace(self.path)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _cached_features(
    store: FeatureStore,
    keys: list[str],
    items: Sequence,
    build: Callable[[], Callable[[list], np.ndarray]],
    feature_dim: int,
    batch: int,
    progress: Progress | None,
) -> np.ndarray:
    """Rows of ``store`` for ``keys``; the missing ones are computed in batches by the function that
    ``build()`` returns (the backbone is loaded only when something is missing), then saved."""
    todo = sorted({k: it for k, it in zip(keys, items, strict=True) if k not in store.data}.items())
    if todo:
        run = build()
        for start in range(0, len(todo), batch):
            chunk = todo[start : start + batch]
            feats = run([it for _, it in chunk])
            for (k, _), f in zip(chunk, feats, strict=True):
                store.data[k] = f.astype(np.float32)
            if progress:
                progress(min(start + batch, len(todo)), len(todo))
        store.save()
    return np.stack([store.data[k] for k in keys]) if keys else np.zeros((0, feature_dim), np.float32)


@torch.inference_mode()
def image_features(paths: Sequence[Path], cfg: VisualConfig, models_home: Path | None = None,
                   batch: int = 16, progress: Progress | None = None) -> np.ndarray:
    """Backbone features ``[N, feature_dim]`` of image files, computed once per distinct content."""
    home = models_home or default_models_home()
    store = FeatureStore(home / "features" / f"image-{backbone_key(cfg)}.npz")

    def build() -> Callable[[list], np.ndarray]:
        backbone = build_visual_backbone(cfg, models_home)
        return lambda ps: backbone(torch.from_numpy(preprocess_images([Image.open(p) for p in ps], cfg))).numpy()

    keys = [_sha(Path(p).read_bytes()) for p in paths]
    return _cached_features(store, keys, paths, build, cfg.feature_dim, batch, progress)


@torch.inference_mode()
def text_features(texts: Sequence[str], cfg: TextConfig, models_home: Path | None = None,
                  batch: int = 64, progress: Progress | None = None) -> np.ndarray:
    """Backbone features ``[N, feature_dim]`` of texts, computed once per distinct text."""
    home = models_home or default_models_home()
    store = FeatureStore(home / "features" / f"text-{backbone_key(cfg)}.npz")

    def build() -> Callable[[list], np.ndarray]:
        backbone = build_text_backbone(cfg, models_home)
        tokenizer = TextTokenizer(resolve(cfg.tokenizer, models_home), cfg.max_length)

        def run(batch_texts: list) -> np.ndarray:
            ids, mask = tokenizer(batch_texts)
            return backbone(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()

        return run

    keys = [_sha(t.encode("utf-8")) for t in texts]
    return _cached_features(store, keys, texts, build, cfg.feature_dim, batch, progress)
