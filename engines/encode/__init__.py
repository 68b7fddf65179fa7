"""Encoder runtimes behind one interface; ``load_encoder`` picks one by name."""

from __future__ import annotations

from pathlib import Path

from engines.encode.base import Embeddings, EncodeItem, Encoder

ENGINES = ("torch", "onnx", "onnx-int8", "tensorrt")

__all__ = ["ENGINES", "Embeddings", "EncodeItem", "Encoder", "load_encoder"]


def load_encoder(
    engine: str = "onnx",
    model_dir: str | Path | None = None,
    threads: int | None = None,
    models_home: str | Path | None = None,
) -> Encoder:
    """An AMPere encoder on the named runtime (torch | onnx | onnx-int8 | tensorrt).

    ``model_dir`` defaults to the shipped weights; ``models_home`` (weights cache, ONNX and TensorRT
    caches) defaults to ``$AMPERE_HOME/models``.
    """
    from encoders.config import SHIPPED_MODEL_DIR

    model_dir = Path(model_dir) if model_dir else SHIPPED_MODEL_DIR
    home = Path(models_home) if models_home else None
    if engine == "torch":
        from engines.encode.torch_engine import TorchEncoder

        return TorchEncoder(model_dir, home, threads=threads)
    if engine in ("onnx", "onnx-int8"):
        from engines.encode.onnx_engine import OnnxEncoder

        return OnnxEncoder(model_dir, home, threads=threads, int8=engine == "onnx-int8")
    if engine == "tensorrt":
        from engines.encode.tensorrt_engine import TensorRTEncoder

        return TensorRTEncoder(model_dir, home)
    raise ValueError(f"unknown encoder engine {engine!r}; choose one of {ENGINES}")
