"""TensorRT engine: cache key, profiles and builder wiring on CPU; parity with torch where a GPU exists."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from encoders.config import SHIPPED_MODEL_DIR, AmpereConfig
from encoders.export import SPECS
from engines.encode.tensorrt_engine import (
    EngineUnavailable,
    Profile,
    build_engine,
    engine_cache_dir,
    engine_cache_key,
    import_tensorrt,
    optimization_profiles,
)

CFG = AmpereConfig.load(SHIPPED_MODEL_DIR)


def _has_gpu_tensorrt() -> bool:
    if importlib.util.find_spec("tensorrt") is None:
        return False
    import torch

    return torch.cuda.is_available()


def test_cache_key_covers_model_gpu_version_and_profiles() -> None:
    profiles = optimization_profiles(CFG)
    base = engine_cache_key("a" * 64, "NVIDIA H100", "10.3.0", profiles)
    assert base == engine_cache_key("a" * 64, "NVIDIA H100", "10.3.0", optimization_profiles(CFG))
    others = {
        engine_cache_key("b" * 64, "NVIDIA H100", "10.3.0", profiles),
        engine_cache_key("a" * 64, "NVIDIA L4", "10.3.0", profiles),
        engine_cache_key("a" * 64, "NVIDIA H100", "10.4.0", profiles),
        engine_cache_key("a" * 64, "NVIDIA H100", "10.3.0", optimization_profiles(CFG, image_batch=64)),
    }
    assert base not in others and len(others) == 4
    assert engine_cache_dir(Path("/m"), base) == Path("/m/tensorrt") / base


def test_profiles_cover_every_input_and_the_runner_chunks() -> None:
    profiles = optimization_profiles(CFG, image_batch=32, text_batch=64, fusion_batch=64)
    for graph, spec in SPECS.items():
        assert set(profiles[graph]) == set(spec.inputs)
        for p in profiles[graph].values():
            assert len(p.min) == len(p.opt) == len(p.max)
            assert all(a <= b <= c for a, b, c in zip(p.min, p.opt, p.max, strict=True))
            assert p.min[0] == 1
    assert profiles["image"]["pixels"].max == (32, 3, CFG.visual.image_size, CFG.visual.image_size)
    assert profiles["text"]["input_ids"].max == (64, CFG.text.max_length)
    assert profiles["fusion"]["frame_tokens"].max == (64, CFG.max_frames, CFG.token_dim)


def test_profiles_match_the_exported_onnx_inputs(weights) -> None:
    import onnx

    from encoders.export import ensure_onnx

    onnx_dir = ensure_onnx(SHIPPED_MODEL_DIR)
    profiles = optimization_profiles(CFG)
    for graph in SPECS:
        model = onnx.load(str(onnx_dir / f"{graph}.onnx"), load_external_data=False)
        for inp in model.graph.input:
            dims = inp.type.tensor_type.shape.dim
            p = profiles[graph][inp.name]
            assert len(dims) == len(p.max)
            for d, lo, hi in zip(dims, p.min, p.max, strict=True):
                if d.HasField("dim_value"):  # fixed axes must be exactly what the profile asks
                    assert lo == hi == d.dim_value, (graph, inp.name)


def test_missing_tensorrt_gives_a_clear_error(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "tensorrt", None)
    with pytest.raises(EngineUnavailable, match="TensorRT"):
        import_tensorrt()
    from engines.encode import load_encoder

    with pytest.raises(EngineUnavailable, match="onnx"):
        load_encoder("tensorrt")


class _Recorder:
    """A stand-in of the tensorrt module that records the builder calls (no GPU needed)."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []
        rec = self

        class Obj:
            def __init__(self, name: str) -> None:
                self._name = name

            def __getattr__(self, attr: str):
                def call(*args, **kwargs):
                    rec.calls.append((self._name, attr, args))
                    if attr == "parse_from_file":
                        return True
                    if attr == "build_serialized_network":
                        return b"engine-bytes"
                    return Obj(attr)

                return call

        self.Logger = lambda *a: Obj("logger")
        self.Logger.WARNING = 2
        self.Builder = lambda logger: Obj("builder")
        self.OnnxParser = lambda network, logger: Obj("parser")
        self.MemoryPoolType = SimpleNamespace(WORKSPACE="workspace")
        self.BuilderFlag = SimpleNamespace(FP16="fp16")


def test_build_engine_sets_fp16_and_one_profile_per_input(tmp_path) -> None:
    trt = _Recorder()
    profiles = {"pixels": Profile((1, 3, 8, 8), (4, 3, 8, 8), (16, 3, 8, 8))}
    assert build_engine(trt, tmp_path / "image.onnx", profiles) == b"engine-bytes"
    names = [(obj, attr) for obj, attr, _ in trt.calls]
    assert ("create_builder_config", "set_flag") in names
    assert ("create_optimization_profile", "set_shape") in names
    set_shape = [args for obj, attr, args in trt.calls if attr == "set_shape"]
    assert set_shape == [("pixels", (1, 3, 8, 8), (4, 3, 8, 8), (16, 3, 8, 8))]
    flags = [args for obj, attr, args in trt.calls if attr == "set_flag"]
    assert flags == [("fp16",)]


@pytest.mark.gpu
@pytest.mark.skipif(not _has_gpu_tensorrt(), reason="needs a CUDA GPU and the tensorrt package (extra 'gpu')")
def test_tensorrt_matches_torch(torch_encoder, items) -> None:
    from engines.encode import load_encoder

    ref, got = torch_encoder.encode(items), load_encoder("tensorrt").encode(items)
    assert (ref.fused * got.fused).sum(1).min() >= 0.999
    assert (ref.visual * got.visual).sum(1)[ref.visual_mask].min() >= 0.999
    assert (ref.text * got.text).sum(1)[ref.text_mask].min() >= 0.999
    np.testing.assert_array_equal(ref.text_mask, got.text_mask)
