"""Shared batching of every encoder runtime: items -> three graphs -> ``Embeddings``.

A runtime only says how to run the image, text and fusion graphs on numpy arrays; this module does
preprocessing, keyframe selection, chunking and masking the same way for all of them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from encoders.config import AmpereConfig, model_version
from encoders.preprocess import TextTokenizer, pick_frames, preprocess_images
from encoders.registry import resolve
from engines.encode.base import Embeddings, EncodeItem


class GraphEncoder(ABC):
    """Base of the torch, ONNX Runtime and TensorRT encoders (implements ``Encoder``)."""

    engine: str = "?"

    def __init__(
        self,
        model_dir: str | Path,
        models_home: Path | None = None,
        image_batch: int = 32,
        text_batch: int = 64,
    ) -> None:
        self.model_dir = Path(model_dir)
        self.models_home = models_home
        self.cfg = AmpereConfig.load(self.model_dir)
        self.model_version = model_version(self.model_dir)
        self.dim = self.cfg.dim
        self.branch_dims = self.cfg.branch_dims()
        self.image_batch, self.text_batch = image_batch, text_batch
        self.tokenizer = TextTokenizer(resolve(self.cfg.text.tokenizer, models_home), self.cfg.text.max_length)

    # --- what a runtime provides -----------------------------------------------------------------
    @abstractmethod
    def run_image(self, pixels: np.ndarray) -> np.ndarray:
        """float32 ``[N,3,S,S]`` -> frame tokens ``[N,token_dim]``."""

    @abstractmethod
    def run_text(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """int64 ``[N,L]`` x2 -> text tokens ``[N,dim]``."""

    @abstractmethod
    def run_fusion(
        self,
        frame_tokens: np.ndarray,
        frame_mask: np.ndarray,
        text_token: np.ndarray,
        text_mask: np.ndarray,
        domain_onehot: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Tokens and masks -> (fused, visual, text), L2-normalized, widths ``cfg.branch_dims()``."""

    # --- the Encoder interface ---------------------------------------------------------------------
    def encode(self, items: Sequence[EncodeItem]) -> Embeddings:
        """Encode a batch; rows follow input order. Every item needs at least one image or some text."""
        n, dim = len(items), self.dim
        if n == 0:
            fused, visual, text = (np.zeros((0, self.branch_dims[b]), np.float32) for b in ("fused", "visual", "text"))
            return Embeddings(fused, visual, text, np.zeros(0, bool), np.zeros(0, bool), self.model_version)
        frames = [pick_frames(it.images, self.cfg.max_frames) for it in items]
        texts = [(it.text or "").strip() for it in items]
        for i, (fr, tx) in enumerate(zip(frames, texts, strict=True)):
            if not fr and not tx:
                raise ValueError(f"item {i} has neither images nor text: nothing to encode")
            if items[i].domain not in self.cfg.domains:
                raise ValueError(f"item {i}: unknown domain {items[i].domain!r} (known: {self.cfg.domains})")

        flat = [im for fr in frames for im in fr]
        image_tokens = self.image_tokens(flat)
        n_frames = max(1, max(len(fr) for fr in frames))
        frame_tokens = np.zeros((n, n_frames, self.cfg.token_dim), np.float32)
        frame_mask = np.zeros((n, n_frames), np.float32)
        pos = 0
        for i, fr in enumerate(frames):
            frame_tokens[i, : len(fr)] = image_tokens[pos : pos + len(fr)]
            frame_mask[i, : len(fr)] = 1.0
            pos += len(fr)

        text_idx = [i for i, t in enumerate(texts) if t]
        text_token = np.zeros((n, dim), np.float32)
        text_mask = np.zeros(n, np.float32)
        if text_idx:
            text_token[text_idx] = self.text_tokens([texts[i] for i in text_idx])
            text_mask[text_idx] = 1.0

        onehot = np.zeros((n, len(self.cfg.domains)), np.float32)
        onehot[np.arange(n), [self.cfg.domains.index(it.domain) for it in items]] = 1.0
        fused, visual, text = self.run_fusion(frame_tokens, frame_mask, text_token, text_mask, onehot)
        return Embeddings(
            fused=np.asarray(fused, np.float32),
            visual=np.asarray(visual, np.float32),
            text=np.asarray(text, np.float32),
            visual_mask=frame_mask.sum(1) > 0,
            text_mask=text_mask > 0,
            model_version=self.model_version,
        )

    def image_tokens(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Frame tokens of single images, run in chunks of ``image_batch``."""
        out = [np.zeros((0, self.cfg.token_dim), np.float32)]
        for start in range(0, len(images), self.image_batch):
            pixels = preprocess_images(images[start : start + self.image_batch], self.cfg.visual)
            out.append(np.asarray(self.run_image(pixels), np.float32))
        return np.concatenate(out)

    def text_tokens(self, texts: Sequence[str]) -> np.ndarray:
        """Text tokens, run in chunks of ``text_batch`` (each chunk padded to its longest text)."""
        out = [np.zeros((0, self.dim), np.float32)]
        for start in range(0, len(texts), self.text_batch):
            ids, mask = self.tokenizer(texts[start : start + self.text_batch])
            out.append(np.asarray(self.run_text(ids, mask), np.float32))
        return np.concatenate(out)
