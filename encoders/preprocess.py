"""Preprocessing shared by every engine: images to normalized pixel arrays, text to token ids (numpy only)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from encoders.config import VisualConfig


def preprocess_image(image: Image.Image, cfg: VisualConfig) -> np.ndarray:
    """Resize the short side to ``resize_size``, center-crop ``image_size``, normalize -> float32 CHW."""
    image = image.convert("RGB")
    w, h = image.size
    scale = cfg.resize_size / min(w, h)
    nw, nh = max(cfg.image_size, round(w * scale)), max(cfg.image_size, round(h * scale))
    image = image.resize((nw, nh), Image.Resampling.BILINEAR)
    left, top = (nw - cfg.image_size) // 2, (nh - cfg.image_size) // 2
    image = image.crop((left, top, left + cfg.image_size, top + cfg.image_size))
    arr = np.asarray(image, dtype=np.float32) / 255.0
    arr = (arr - np.asarray(cfg.mean, np.float32)) / np.asarray(cfg.std, np.float32)
    return np.ascontiguousarray(arr.transpose(2, 0, 1))


def preprocess_images(images: Sequence[Image.Image], cfg: VisualConfig) -> np.ndarray:
    """A batch of images -> float32 ``[N, 3, S, S]``."""
    if not images:
        return np.zeros((0, 3, cfg.image_size, cfg.image_size), np.float32)
    return np.stack([preprocess_image(im, cfg) for im in images])


class TextTokenizer:
    """Fast tokenizer from the text backbone's ``tokenizer.json``; pads to the longest in the batch."""

    def __init__(self, tokenizer_file: str | Path, max_length: int) -> None:
        from tokenizers import Tokenizer

        self.max_length = max_length
        self._tok = Tokenizer.from_file(str(tokenizer_file))
        self._tok.enable_truncation(max_length=max_length)
        self._tok.enable_padding(pad_id=0, pad_token="[PAD]")

    def __call__(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Texts -> (input_ids, attention_mask), both int64 ``[N, L]``."""
        if not texts:
            return np.zeros((0, 1), np.int64), np.zeros((0, 1), np.int64)
        enc = self._tok.encode_batch(list(texts))
        ids = np.asarray([e.ids for e in enc], dtype=np.int64)
        mask = np.asarray([e.attention_mask for e in enc], dtype=np.int64)
        return ids, mask


def pick_frames(images: Sequence[Image.Image], max_frames: int) -> list[Image.Image]:
    """At most ``max_frames`` images, evenly spread over the sequence (order kept)."""
    n = len(images)
    if n <= max_frames:
        return list(images)
    idx = np.linspace(0, n - 1, max_frames).round().astype(int)
    return [images[i] for i in idx]
