"""The untrained baseline: the model's own frozen backbones, cosine on their pooled features.

Images: the mean of the L2-normalized MobileNetV2 pooled features of an item's photos or keyframes;
text: the MiniLM mean-pooled sentence vector. No trained head is involved, so an evaluation row
built from these shows what training adds (or takes away).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from encoders.config import TextConfig, VisualConfig
from encoders.features import image_features, text_features
from encoders.scoring import Branches


def _unit(x: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return np.divide(x, n, out=np.zeros_like(x), where=n > 0)


class FrozenBackbone:
    """Pooled frozen features of items given as image files and texts (features cached on disk)."""

    def __init__(self, visual: VisualConfig, text: TextConfig, models_home: Path | None = None) -> None:
        self.visual_cfg, self.text_cfg, self.models_home = visual, text, models_home
        self.name = f"{visual.arch} + {text.arch}"

    def images(self, paths: Sequence[Path]) -> np.ndarray:
        """Features ``[N, Fv]`` of image files."""
        return image_features(list(paths), self.visual_cfg, self.models_home)

    def texts(self, texts: Sequence[str]) -> np.ndarray:
        """Features ``[N, Ft]`` of texts."""
        return text_features(list(texts), self.text_cfg, self.models_home)

    def encode(self, image_paths: Sequence[Sequence[Path]], texts: Sequence[str | None]) -> Branches:
        """One row per item: pooled image features and text features (zero rows where absent)."""
        return pooled_branches(image_paths, texts, self.images, self.texts)


def pooled_branches(image_paths: Sequence[Sequence[Path]], texts: Sequence[str | None], images, encode_texts) -> Branches:
    """Rows of mean-pooled unit image features and unit text features from the two feature functions."""
    n = len(texts)
    distinct = list(dict.fromkeys(p for ps in image_paths for p in ps))
    feats = _unit(np.asarray(images(distinct), np.float64)) if distinct else np.zeros((0, 1))
    index = {p: i for i, p in enumerate(distinct)}
    vdim = feats.shape[1] if distinct else 1
    visual = np.zeros((n, vdim))
    for i, ps in enumerate(image_paths):
        if ps:
            visual[i] = _unit(feats[[index[p] for p in ps]].mean(axis=0))
    present = [i for i, t in enumerate(texts) if t and t.strip()]
    tfeats = _unit(np.asarray(encode_texts([texts[i] for i in present]), np.float64)) if present else np.zeros((0, 1))
    text = np.zeros((n, tfeats.shape[1] if present else 1))
    text[present] = tfeats
    return Branches(np.zeros((n, 1)), visual.astype(np.float32), text.astype(np.float32),
                    np.asarray([bool(ps) for ps in image_paths]), np.isin(np.arange(n), present))
