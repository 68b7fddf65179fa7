"""Export of the three model graphs to ONNX (dynamic batch), cached by model hash.

``<models_home>/onnx/<hash16>/{image,text,fusion}.onnx`` is built on first use; the int8 variant
(ONNX Runtime dynamic quantization) sits in its ``int8-per-channel/`` subfolder.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from encoders.config import AmpereConfig, model_hash
from encoders.registry import default_models_home

if TYPE_CHECKING:
    import torch

OPSET = 17
GRAPHS = ("image", "text", "fusion")
MANIFEST = "manifest.json"
INT8_DIR = "int8-per-channel"


@dataclass(frozen=True)
class GraphSpec:
    """Names and dynamic axes of one exported graph."""

    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    dynamic_axes: dict[str, dict[int, str]]


SPECS: dict[str, GraphSpec] = {
    "image": GraphSpec(("pixels",), ("visual_token",), {"pixels": {0: "n"}, "visual_token": {0: "n"}}),
    "text": GraphSpec(
        ("input_ids", "attention_mask"),
        ("text_token",),
        {"input_ids": {0: "n", 1: "length"}, "attention_mask": {0: "n", 1: "length"}, "text_token": {0: "n"}},
    ),
    "fusion": GraphSpec(
        ("frame_tokens", "frame_mask", "text_token", "text_mask", "domain_onehot"),
        ("fused", "visual", "text"),
        {
            "frame_tokens": {0: "batch", 1: "frames"},
            "frame_mask": {0: "batch", 1: "frames"},
            "text_token": {0: "batch"},
            "text_mask": {0: "batch"},
            "domain_onehot": {0: "batch"},
            "fused": {0: "batch"},
            "visual": {0: "batch"},
            "text": {0: "batch"},
        },
    ),
}


def sample_inputs(cfg: AmpereConfig, batch: int = 2) -> dict[str, tuple[torch.Tensor, ...]]:
    """Tracing inputs of each graph."""
    import torch

    s, d = cfg.visual.image_size, cfg.dim
    frames = min(2, cfg.max_frames)
    return {
        "image": (torch.randn(batch, 3, s, s),),
        "text": (torch.randint(1000, 2000, (batch, 8)), torch.ones(batch, 8, dtype=torch.int64)),
        "fusion": (
            torch.randn(batch, frames, cfg.token_dim),
            torch.ones(batch, frames),
            torch.randn(batch, d),
            torch.ones(batch),
            torch.nn.functional.one_hot(torch.arange(batch) % len(cfg.domains), len(cfg.domains)).float(),
        ),
    }


def export_graphs(model_dir: str | Path, out_dir: str | Path, models_home: Path | None = None) -> Path:
    """Export image/text/fusion graphs of a model folder into ``out_dir``."""
    import torch

    from encoders.model import AmpereModel

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = AmpereModel.from_dir(model_dir, models_home).eval()
    modules = {"image": model.image_graph, "text": model.text_graph, "fusion": model.fusion_graph}
    inputs = sample_inputs(model.cfg)
    for name in GRAPHS:
        spec = SPECS[name]
        with torch.inference_mode():
            torch.onnx.export(
                modules[name],
                inputs[name],
                str(out_dir / f"{name}.onnx"),
                input_names=list(spec.inputs),
                output_names=list(spec.outputs),
                dynamic_axes=spec.dynamic_axes,
                opset_version=OPSET,
                do_constant_folding=True,
                dynamo=False,
            )
    return out_dir


def onnx_cache_dir(model_dir: str | Path, models_home: Path | None = None) -> Path:
    """Cache folder of a model's ONNX graphs (keyed by the model hash)."""
    return (models_home or default_models_home()) / "onnx" / model_hash(model_dir)[:16]


def _complete(folder: Path) -> bool:
    return (folder / MANIFEST).is_file() and all((folder / f"{g}.onnx").is_file() for g in GRAPHS)


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def ensure_onnx(model_dir: str | Path, models_home: Path | None = None) -> Path:
    """The model's fp32 ONNX folder, exported on first use (atomic: built aside, then renamed)."""
    target = onnx_cache_dir(model_dir, models_home)
    if _complete(target):
        return target
    _say(f"exporting the AMPere encoder to ONNX (first use) -> {target}")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=target.parent))
    try:
        export_graphs(model_dir, tmp, models_home)
        import torch

        manifest = {"model_hash": model_hash(model_dir), "opset": OPSET, "torch": torch.__version__,
                    "graphs": {g: {"inputs": SPECS[g].inputs, "outputs": SPECS[g].outputs} for g in GRAPHS}}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        _publish(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def ensure_onnx_int8(model_dir: str | Path, models_home: Path | None = None) -> Path:
    """The int8 variant: dynamic quantization of MatMul/Gemm weights, per output channel.

    Per-channel scales keep the text branch at cosine ~0.995 vs fp32 (per-tensor: ~0.977).
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    fp32 = ensure_onnx(model_dir, models_home)
    target = fp32 / INT8_DIR
    if _complete(target):
        return target
    _say(f"quantizing the AMPere ONNX graphs to int8 (first use) -> {target}")
    tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=fp32))
    try:
        for g in GRAPHS:
            quantize_dynamic(
                str(fp32 / f"{g}.onnx"),
                str(tmp / f"{g}.onnx"),
                weight_type=QuantType.QInt8,
                op_types_to_quantize=["MatMul", "Gemm"],
                per_channel=True,
            )
        shutil.copy(fp32 / MANIFEST, tmp / MANIFEST)
        _publish(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _publish(tmp: Path, target: Path) -> None:
    """Move a finished build into place; a complete one published meanwhile by another process wins."""
    if _complete(target):
        return
    if target.exists():  # a partial leftover of a crashed build
        shutil.rmtree(target, ignore_errors=True)
    try:
        os.rename(tmp, target)
    except OSError:
        if not _complete(target):
            raise
