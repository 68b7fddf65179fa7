"""Frozen pretrained backbones, built from registry-pinned weight files (no hub access)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from encoders.config import TextConfig, VisualConfig
from encoders.registry import resolve


class MobileNetV2Features(nn.Module):
    """torchvision MobileNetV2 (ImageNet) without its classifier: pixels -> globally pooled 1280-d."""

    def __init__(self, cfg: VisualConfig, models_home: Path | None = None) -> None:
        super().__init__()
        from torchvision.models import mobilenet_v2

        net = mobilenet_v2(weights=None)
        state = torch.load(resolve(cfg.weights, models_home), map_location="cpu", weights_only=True)
        net.load_state_dict(state)
        self.features = net.features

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.features(pixels).mean(dim=(2, 3))


class BertMeanPool(nn.Module):
    """A transformers BERT encoder, mean-pooled over real tokens (sentence-transformers style)."""

    def __init__(self, cfg: TextConfig, models_home: Path | None = None) -> None:
        super().__init__()
        from safetensors.torch import load_file
        from transformers import BertConfig, BertModel

        bert_cfg = BertConfig.from_json_file(str(resolve(cfg.model_config, models_home)))
        bert_cfg._attn_implementation = "eager"
        self.bert = BertModel(bert_cfg, add_pooling_layer=False)
        state = load_file(str(resolve(cfg.model, models_home)))
        state = {k: v for k, v in state.items() if not k.startswith("pooler.")}
        missing, unexpected = self.bert.load_state_dict(state, strict=False)
        missing = [k for k in missing if not k.endswith("position_ids") and "token_type_ids" not in k]
        if missing or [k for k in unexpected if not k.endswith("position_ids")]:
            raise RuntimeError(f"text backbone weights do not fit: missing={missing} unexpected={unexpected}")

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-6)


def build_visual_backbone(cfg: VisualConfig, models_home: Path | None = None) -> nn.Module:
    """The frozen image backbone named by the config."""
    if cfg.arch != "mobilenet_v2":
        raise ValueError(f"unknown visual backbone {cfg.arch!r}")
    return _freeze(MobileNetV2Features(cfg, models_home))


def build_text_backbone(cfg: TextConfig, models_home: Path | None = None) -> nn.Module:
    """The frozen text backbone named by the config."""
    if cfg.arch != "bert-mean-pool":
        raise ValueError(f"unknown text backbone {cfg.arch!r}")
    return _freeze(BertMeanPool(cfg, models_home))


def _freeze(module: nn.Module) -> nn.Module:
    module.eval()
    for p in module.parameters():
        p.requires_grad_(False)
    return module
