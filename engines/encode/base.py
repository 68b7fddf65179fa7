"""The Encoder interface shared by the torch, ONNX Runtime and TensorRT runners."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

import numpy as np
from PIL import Image

EncodeDomain = Literal["product", "video", "live"]


@dataclass
class EncodeItem:
    """One thing to embed: zero or more images plus optional text, in one domain.

    Products: their photos + title (and key attributes). Live / video moments: the chosen
    keyframes + the summary sentence. No images or no text means that branch is masked.
    """

    domain: EncodeDomain
    images: list[Image.Image] = field(default_factory=list)
    text: str | None = None


@dataclass
class Embeddings:
    """Batched output: L2-normalized float32 rows; masked branches are all-zero rows."""

    fused: np.ndarray
    visual: np.ndarray
    text: np.ndarray
    visual_mask: np.ndarray
    text_mask: np.ndarray
    model_version: str

    def __len__(self) -> int:
        return int(self.fused.shape[0])


@runtime_checkable
class Encoder(Protocol):
    """Embeds batches of items into one compact multimodal vector each (plus branch vectors)."""

    model_version: str
    dim: int

    def encode(self, items: Sequence[EncodeItem]) -> Embeddings:
        """Encode a batch; output rows follow input order."""
        ...


def branch_dims(encoder: Encoder) -> dict[str, int]:
    """Width of each output vector of ``encoder`` (fused, visual, text): its ``branch_dims`` when it
    has one (the visual branch may keep the backbone's full width), else ``dim`` for all three."""
    dims = getattr(encoder, "branch_dims", None)
    return dict(dims) if dims else {b: encoder.dim for b in ("fused", "visual", "text")}

