"""TensorRT encoder (the GPU path): fp16 engines built from the same ONNX graphs, dynamic-batch profiles.

Serialized engines are cached under ``<models_home>/tensorrt/<key>/`` where the key covers the model
hash, the GPU name, the TensorRT version and the optimization profiles, so a change of any of them
rebuilds. ``tensorrt`` is imported lazily (extra ``gpu``); without it or without CUDA a clear
``EngineUnavailable`` is raised.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from encoders.config import AmpereConfig, model_hash
from encoders.export import GRAPHS, SPECS, ensure_onnx
from encoders.registry import default_models_home
from engines.encode.runner import GraphEncoder

Shape = tuple[int, ...]


class EngineUnavailable(RuntimeError):
    """The requested runtime cannot run here (package or hardware missing)."""


@dataclass(frozen=True)
class Profile:
    """min / opt / max shape of one dynamic input."""

    min: Shape
    opt: Shape
    max: Shape


def optimization_profiles(cfg: AmpereConfig, image_batch: int = 32, text_batch: int = 64,
                          fusion_batch: int = 64) -> dict[str, dict[str, Profile]]:
    """Dynamic-shape profiles of every input of every graph (batch 1 .. the runner's chunk size)."""
    s, d, f, L, nd = cfg.visual.image_size, cfg.dim, cfg.max_frames, cfg.text.max_length, len(cfg.domains)
    t = cfg.token_dim

    def batch(lo: Shape, mx: int, opt: int, rest: Shape = ()) -> Profile:
        return Profile((1, *lo), (opt, *rest), (mx, *rest))

    return {
        "image": {"pixels": batch((3, s, s), image_batch, min(8, image_batch), (3, s, s))},
        "text": {
            "input_ids": Profile((1, 1), (min(16, text_batch), L // 2), (text_batch, L)),
            "attention_mask": Profile((1, 1), (min(16, text_batch), L // 2), (text_batch, L)),
        },
        "fusion": {
            "frame_tokens": Profile((1, 1, t), (8, f, t), (fusion_batch, f, t)),
            "frame_mask": Profile((1, 1), (8, f), (fusion_batch, f)),
            "text_token": batch((d,), fusion_batch, 8, (d,)),
            "text_mask": Profile((1,), (8,), (fusion_batch,)),
            "domain_onehot": batch((nd,), fusion_batch, 8, (nd,)),
        },
    }


def engine_cache_key(model_hash_hex: str, gpu_name: str, trt_version: str,
                     profiles: dict[str, dict[str, Profile]]) -> str:
    """Stable key of a set of engines: model hash + GPU + TensorRT version + profiles."""
    blob = json.dumps(
        {"model": model_hash_hex, "gpu": gpu_name, "trt": trt_version,
         "profiles": {g: {k: [p.min, p.opt, p.max] for k, p in ps.items()} for g, ps in profiles.items()}},
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def engine_cache_dir(models_home: Path | None, key: str) -> Path:
    """Folder of the serialized engines of one key."""
    return (models_home or default_models_home()) / "tensorrt" / key


def import_tensorrt():
    """``tensorrt`` and a usable CUDA device, or ``EngineUnavailable`` saying what is missing."""
    try:
        import tensorrt as trt
    except ImportError as exc:
        raise EngineUnavailable(
            "encoder engine 'tensorrt' needs NVIDIA TensorRT (pip install 'ampere-stream[gpu]') and a CUDA GPU; "
            "use engine 'onnx' on CPU"
        ) from exc
    import torch

    if not torch.cuda.is_available():
        raise EngineUnavailable("encoder engine 'tensorrt' needs a CUDA GPU; none is visible (use 'onnx')")
    return trt


def build_engine(trt, onnx_path: Path, profiles: dict[str, Profile], fp16: bool = True,
                 workspace_bytes: int = 1 << 30) -> bytes:
    """Parse an ONNX graph and build a serialized engine with one optimization profile."""
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise RuntimeError(f"TensorRT could not parse {onnx_path.name}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_bytes)
    if fp16:
        config.set_flag(trt.BuilderFlag.FP16)
    profile = builder.create_optimization_profile()
    for name, p in profiles.items():
        profile.set_shape(name, p.min, p.opt, p.max)
    config.add_optimization_profile(profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise RuntimeError(f"TensorRT failed to build an engine for {onnx_path.name}")
    return bytes(serialized)


class TensorRTEncoder(GraphEncoder):
    """Runs fp16 TensorRT engines on CUDA, with torch tensors as device buffers."""

    engine = "tensorrt"

    def __init__(self, model_dir: str | Path, models_home: Path | None = None, fp16: bool = True,
                 **kwargs: int) -> None:
        trt = import_tensorrt()
        import torch

        super().__init__(model_dir, models_home, **kwargs)
        self._torch = torch
        self.fusion_batch = 64
        profiles = optimization_profiles(self.cfg, self.image_batch, self.text_batch, self.fusion_batch)
        key = engine_cache_key(model_hash(self.model_dir), torch.cuda.get_device_name(0), trt.__version__, profiles)
        cache = engine_cache_dir(models_home, key)
        cache.mkdir(parents=True, exist_ok=True)
        onnx_dir = ensure_onnx(self.model_dir, models_home)
        runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        self._trt = trt
        self.engines, self.contexts = {}, {}
        for g in GRAPHS:
            path = cache / f"{g}.engine"
            if not path.is_file():
                print(f"building TensorRT fp16 engine {g} (first use on this GPU) -> {path}", flush=True)
                tmp = path.with_suffix(".partial")
                tmp.write_bytes(build_engine(trt, onnx_dir / f"{g}.onnx", profiles[g], fp16=fp16))
                tmp.replace(path)
            engine = runtime.deserialize_cuda_engine(path.read_bytes())
            self.engines[g] = engine
            self.contexts[g] = engine.create_execution_context()
        self.stream = torch.cuda.Stream()

    def _torch_dtype(self, trt_dtype):
        trt, torch = self._trt, self._torch
        table = {trt.float32: torch.float32, trt.float16: torch.float16, trt.int32: torch.int32}
        if hasattr(trt, "int64"):
            table[trt.int64] = torch.int64
        return table[trt_dtype]

    def _run(self, graph: str, feeds: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
        torch = self._torch
        engine, ctx = self.engines[graph], self.contexts[graph]
        keep = []
        for name, arr in feeds.items():
            t = torch.from_numpy(np.ascontiguousarray(arr)).to("cuda")
            t = t.to(self._torch_dtype(engine.get_tensor_dtype(name))).contiguous()
            keep.append(t)
            ctx.set_input_shape(name, tuple(t.shape))
            ctx.set_tensor_address(name, t.data_ptr())
        outs = []
        for name in SPECS[graph].outputs:
            out = torch.empty(tuple(ctx.get_tensor_shape(name)), device="cuda",
                              dtype=self._torch_dtype(engine.get_tensor_dtype(name)))
            ctx.set_tensor_address(name, out.data_ptr())
            outs.append(out)
        ctx.execute_async_v3(self.stream.cuda_stream)
        self.stream.synchronize()
        return tuple(o.float().cpu().numpy() for o in outs)

    def run_image(self, pixels: np.ndarray) -> np.ndarray:
        return self._run("image", {"pixels": pixels})[0]

    def run_text(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        return self._run("text", {"input_ids": input_ids, "attention_mask": attention_mask})[0]

    def run_fusion(self, frame_tokens, frame_mask, text_token, text_mask, domain_onehot):
        parts = []
        for s in range(0, len(frame_tokens), self.fusion_batch):
            sl = slice(s, s + self.fusion_batch)
            parts.append(self._run("fusion", {
                "frame_tokens": frame_tokens[sl], "frame_mask": frame_mask[sl], "text_token": text_token[sl],
                "text_mask": text_mask[sl], "domain_onehot": domain_onehot[sl],
            }))
        return tuple(np.concatenate([p[i] for p in parts]) for i in range(3))
