"""A missing modality is masked, not zero-filled, and whatever sits in a masked slot cannot leak."""

from __future__ import annotations

import numpy as np

from engines.encode import EncodeItem

from .conftest import synthetic_image


def _fusion_inputs(encoder, rng: np.random.Generator, batch: int = 6, frames: int = 3):
    d, nd = encoder.dim, len(encoder.cfg.domains)
    frame_tokens = rng.normal(size=(batch, frames, encoder.cfg.token_dim)).astype(np.float32)
    frame_mask = np.ones((batch, frames), np.float32)
    frame_mask[:, 2] = 0.0
    text_token = rng.normal(size=(batch, d)).astype(np.float32)
    text_mask = np.zeros(batch, np.float32)
    onehot = np.eye(nd, dtype=np.float32)[np.arange(batch) % nd]
    return frame_tokens, frame_mask, text_token, text_mask, onehot


def test_masked_slots_do_not_change_outputs(onnx_encoder, torch_encoder) -> None:
    rng = np.random.default_rng(0)
    for encoder in (onnx_encoder, torch_encoder):
        ft, fm, tt, tm, oh = _fusion_inputs(encoder, rng)
        first = encoder.run_fusion(ft, fm, tt, tm, oh)
        ft2, tt2 = ft.copy(), rng.normal(size=tt.shape).astype(np.float32) * 100
        ft2[:, 2] = rng.normal(size=ft2[:, 2].shape) * 100
        second = encoder.run_fusion(ft2, fm, tt2, tm, oh)
        for a, b in zip(first, second, strict=True):
            np.testing.assert_allclose(a, b, atol=1e-6)


def test_masked_text_differs_from_zero_filled_text(onnx_encoder, torch_encoder) -> None:
    """Zero-filling the missing text feature (the alternative to masking) would change the vector."""
    import torch

    ft, fm, _, tm, oh = _fusion_inputs(onnx_encoder, np.random.default_rng(1))
    heads = torch_encoder.model.heads
    with torch.inference_mode():
        zero_feature = torch.zeros(len(ft), onnx_encoder.cfg.text.feature_dim)
        zero_filled_token = heads.text_token(zero_feature).numpy()
    masked = onnx_encoder.run_fusion(ft, fm, zero_filled_token, tm, oh)[0]
    zero_filled = onnx_encoder.run_fusion(ft, fm, zero_filled_token, np.ones_like(tm), oh)[0]
    assert np.abs(masked - zero_filled).max() > 1e-3


def test_missing_text_at_item_level(onnx_encoder) -> None:
    image = synthetic_image(5)
    out = onnx_encoder.encode([
        EncodeItem("live", [image], None),
        EncodeItem("live", [image], ""),
        EncodeItem("live", [image], "   "),
    ])
    assert not out.text_mask.any()
    np.testing.assert_allclose(out.fused[0], out.fused[1], atol=1e-6)
    np.testing.assert_allclose(out.fused[0], out.fused[2], atol=1e-6)
    # with no text the fused vector is the visual branch passed through the live fusion module alone
    assert out.visual_mask.all()


def test_missing_images_at_item_level(onnx_encoder) -> None:
    out = onnx_encoder.encode([EncodeItem("product", [], "red shoes")])
    assert not out.visual_mask[0] and out.text_mask[0]
    assert not out.visual[0].any()
    np.testing.assert_allclose(np.linalg.norm(out.fused[0]), 1.0, atol=1e-5)


def test_item_with_nothing_is_rejected(onnx_encoder) -> None:
    import pytest

    with pytest.raises(ValueError, match="neither images nor text"):
        onnx_encoder.encode([EncodeItem("live", [], None)])
