"""Encoder runtimes behind one interface; ``load_encoder`` picks one by name."""

from __future__ import annotations

from pathlib import Path

from engines.encode.base import Embeddings, EncodeItem, Encoder
from engines.registry import EngineRegistry

#: Encoder runtimes by name; ``load_encoder`` and the settings' validation use it.
ENCODERS: EngineRegistry[Encoder] = EngineRegistry("encoder engine")


@ENCODERS.register("torch")
def _torch(model_dir: Path, models_home: Path | None, threads: int | None) -> Encoder:
    from engines.encode.torch_engine import TorchEncoder

    return TorchEncoder(model_dir, models_home, threads=threads)


@ENCODERS.register("onnx")
def _onnx(model_dir: Path, models_home: Path | None, threads: int | None) -> Encoder:
    from engines.encode.onnx_engine import OnnxEncoder

    return OnnxEncoder(model_dir, models_home, threads=threads)


@ENCODERS.register("onnx-int8")
def _onnx_int8(model_dir: Path, models_home: Path | None, threads: int | None) -> Encoder:
    from engines.encode.onnx_engine import OnnxEncoder

    return OnnxEncoder(model_dir, models_home, threads=threads, int8=True)


@ENCODERS.register("tensorrt")
def _tensorrt(model_dir: Path, models_home: Path | None, threads: int | None) -> Encoder:
    from engines.encode.tensorrt_engine import TensorRTEncoder

    return TensorRTEncoder(model_dir, models_home)


ENGINES = ENCODERS.names()

__all__ = ["ENCODERS", "ENGINES", "Embeddings", "EncodeItem", "Encoder", "load_encoder"]


def load_encoder(
    engine: str = "onnx",
    model_dir: str | Path | None = None,
    threads: int | None = None,
    models_home: str | Path | None = None,
) -> Encoder:
    """An AMPere encoder on the named runtime (one of ``ENCODERS``: torch | onnx | onnx-int8 | tensorrt).

    ``model_dir`` defaults to the shipped weights; ``models_home`` (weights cache, ONNX and TensorRT
    caches) defaults to ``$AMPERE_HOME/models``.
    """
    entry = ENCODERS.entry(engine)  # an unknown name fails before the model config is imported
    from encoders.config import SHIPPED_MODEL_DIR

    return entry.factory(
        model_dir=Path(model_dir) if model_dir else SHIPPED_MODEL_DIR,
        models_home=Path(models_home) if models_home else None,
        threads=threads,
    )
