"""A batch of 64 gives the same vectors as 64 batches of 1; empty batches are fine."""

from __future__ import annotations

import numpy as np

from engines.encode import EncodeItem

from .conftest import TEXTS, synthetic_image


def _items(n: int = 64) -> list[EncodeItem]:
    images = [synthetic_image(200 + k, size=(160 + 8 * k, 120)) for k in range(8)]
    domains = ("product", "video", "live")
    return [
        EncodeItem(
            domain=domains[i % 3],
            images=[images[i % 8], images[(i * 3) % 8]][: 1 + i % 2] if i % 5 else [],
            text=None if i % 7 == 3 and i % 5 else TEXTS[i % len(TEXTS)] + f" #{i}",
        )
        for i in range(n)
    ]


def _check(encoder, n: int) -> None:
    items = _items(n)
    together = encoder.encode(items)
    for field in ("fused", "visual", "text"):
        alone = np.concatenate([getattr(encoder.encode([it]), field) for it in items])
        np.testing.assert_allclose(getattr(together, field), alone, atol=2e-5, err_msg=field)


def test_batch_of_64_equals_batches_of_1_onnx(onnx_encoder) -> None:
    _check(onnx_encoder, 64)


def test_batched_equals_single_torch(torch_encoder) -> None:
    _check(torch_encoder, 6)  # the eager reference is slow on CPU: fewer items, same property


def test_empty_batch(onnx_encoder) -> None:
    out = onnx_encoder.encode([])
    assert len(out) == 0 and out.fused.shape == (0, onnx_encoder.dim)
