"""ONNX Runtime (fp32 and int8) against the torch reference on the fixed input set."""

from __future__ import annotations

import numpy as np

from engines.encode import load_encoder


def _row_cosines(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return (a[mask] * b[mask]).sum(axis=1)


def test_onnx_matches_torch(torch_encoder, onnx_encoder, items) -> None:
    ref, got = torch_encoder.encode(items), onnx_encoder.encode(items)
    assert got.model_version == ref.model_version
    np.testing.assert_array_equal(got.visual_mask, ref.visual_mask)
    np.testing.assert_array_equal(got.text_mask, ref.text_mask)
    everything = np.ones(len(items), bool)
    assert _row_cosines(ref.fused, got.fused, everything).min() >= 0.9999
    assert _row_cosines(ref.visual, got.visual, ref.visual_mask).min() >= 0.9999
    assert _row_cosines(ref.text, got.text, ref.text_mask).min() >= 0.9999


def test_outputs_are_unit_rows_and_masked_rows_are_zero(onnx_encoder, items) -> None:
    out = onnx_encoder.encode(items)
    assert out.fused.dtype == np.float32 and out.fused.shape == (len(items), onnx_encoder.dim)
    np.testing.assert_allclose(np.linalg.norm(out.fused, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(out.visual[out.visual_mask], axis=1), 1.0, atol=1e-5)
    assert not out.visual[~out.visual_mask].any()
    assert not out.text[~out.text_mask].any()


def test_int8_quality_loss_is_bounded(torch_encoder, items, weights) -> None:
    ref = torch_encoder.encode(items)
    got = load_encoder("onnx-int8", threads=2).encode(items)
    cos = _row_cosines(ref.fused, got.fused, np.ones(len(items), bool))
    assert cos.mean() >= 0.98 and cos.min() >= 0.96, cos
