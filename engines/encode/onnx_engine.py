"""ONNX Runtime encoder (the CPU default): fp32 graphs, or their int8 dynamic-quantized variant."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from encoders.export import GRAPHS, ensure_onnx, ensure_onnx_int8
from engines.encode.runner import GraphEncoder


def session_options(threads: int | None):
    """Graph optimizations ALL, intra-op threads set (default: all cores), sequential execution.

    Intra-op spinning is off: the three sessions run one after another and must not burn each
    other's cores (or a worker's other threads) while idle.
    """
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.intra_op_num_threads = threads or os.cpu_count() or 1
    opts.inter_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return opts


class OnnxEncoder(GraphEncoder):
    """Runs the exported graphs with ONNX Runtime (CPU provider unless others are given)."""

    def __init__(
        self,
        model_dir: str | Path,
        models_home: Path | None = None,
        threads: int | None = None,
        int8: bool = False,
        providers: list[str] | None = None,
        **kwargs: int,
    ) -> None:
        import onnxruntime as ort

        super().__init__(model_dir, models_home, **kwargs)
        self.engine = "onnx-int8" if int8 else "onnx"
        self.onnx_dir = (ensure_onnx_int8 if int8 else ensure_onnx)(self.model_dir, models_home)
        opts = session_options(threads)
        providers = providers or ["CPUExecutionProvider"]
        self.sessions = {
            g: ort.InferenceSession(str(self.onnx_dir / f"{g}.onnx"), sess_options=opts, providers=providers)
            for g in GRAPHS
        }

    def run_image(self, pixels: np.ndarray) -> np.ndarray:
        return self.sessions["image"].run(None, {"pixels": pixels})[0]

    def run_text(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        return self.sessions["text"].run(None, {"input_ids": input_ids, "attention_mask": attention_mask})[0]

    def run_fusion(self, frame_tokens, frame_mask, text_token, text_mask, domain_onehot):
        feeds = {
            "frame_tokens": frame_tokens,
            "frame_mask": frame_mask,
            "text_token": text_token,
            "text_mask": text_mask,
            "domain_onehot": domain_onehot,
        }
        return tuple(self.sessions["fusion"].run(None, feeds))
