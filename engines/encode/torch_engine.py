"""The reference encoder: torch eager on CPU (or CUDA)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from encoders.model import AmpereModel
from engines.encode.runner import GraphEncoder


class TorchEncoder(GraphEncoder):
    """Runs the three graphs with torch (the reference for parity tests)."""

    engine = "torch"

    def __init__(
        self,
        model_dir: str | Path,
        models_home: Path | None = None,
        threads: int | None = None,
        device: str = "cpu",
        **kwargs: int,
    ) -> None:
        super().__init__(model_dir, models_home, **kwargs)
        if threads:
            torch.set_num_threads(threads)
        self.device = torch.device(device)
        self.model = AmpereModel.from_dir(self.model_dir, models_home).to(self.device).eval()

    def _t(self, arr: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(arr)).to(self.device)

    @torch.inference_mode()
    def run_image(self, pixels: np.ndarray) -> np.ndarray:
        return self.model.image_graph(self._t(pixels)).float().cpu().numpy()

    @torch.inference_mode()
    def run_text(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        return self.model.text_graph(self._t(input_ids), self._t(attention_mask)).float().cpu().numpy()

    @torch.inference_mode()
    def run_fusion(self, frame_tokens, frame_mask, text_token, text_mask, domain_onehot):
        outs = self.model.fusion_graph(
            self._t(frame_tokens), self._t(frame_mask), self._t(text_token), self._t(text_mask), self._t(domain_onehot)
        )
        return tuple(o.float().cpu().numpy() for o in outs)
