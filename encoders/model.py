"""The whole AMPere model in torch: frozen backbones + trained heads, split into three exportable graphs.

- ``ImageGraph``:  pixels ``[N,3,S,S]``                 -> visual tokens ``[N,dim]`` (one per image)
- ``TextGraph``:   input_ids, attention_mask ``[N,L]``  -> text tokens ``[N,dim]``
- ``FusionGraph``: frame tokens + masks, text token + mask, domain one-hot -> fused, visual, text
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from encoders.backbones import build_text_backbone, build_visual_backbone
from encoders.config import HEADS_NAME, AmpereConfig
from encoders.heads import AmpereHeads


class ImageGraph(nn.Module):
    """Image backbone + visual projection."""

    def __init__(self, backbone: nn.Module, heads: AmpereHeads) -> None:
        super().__init__()
        self.backbone, self.heads = backbone, heads

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.heads.image_token(self.backbone(pixels))


class TextGraph(nn.Module):
    """Text backbone + text projection."""

    def __init__(self, backbone: nn.Module, heads: AmpereHeads) -> None:
        super().__init__()
        self.backbone, self.heads = backbone, heads

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.heads.text_token(self.backbone(input_ids, attention_mask))


class FusionGraph(nn.Module):
    """Temporal pooling + per-domain fusion."""

    def __init__(self, heads: AmpereHeads) -> None:
        super().__init__()
        self.heads = heads

    def forward(self, frame_tokens, frame_mask, text_token, text_mask, domain_onehot):
        return self.heads.fuse(frame_tokens, frame_mask, text_token, text_mask, domain_onehot)


class AmpereModel(nn.Module):
    """Frozen backbones and trainable heads, rebuilt from a model folder."""

    def __init__(self, cfg: AmpereConfig, heads: AmpereHeads | None = None, models_home: Path | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        self.heads = heads or AmpereHeads(cfg)
        self.visual_backbone = build_visual_backbone(cfg.visual, models_home)
        self.text_backbone = build_text_backbone(cfg.text, models_home)
        self.image_graph = ImageGraph(self.visual_backbone, self.heads)
        self.text_graph = TextGraph(self.text_backbone, self.heads)
        self.fusion_graph = FusionGraph(self.heads)
        self.eval()

    @classmethod
    def from_dir(cls, model_dir: str | Path, models_home: Path | None = None) -> AmpereModel:
        """Load ``config.json`` + ``heads.safetensors``."""
        cfg = AmpereConfig.load(model_dir)
        return cls(cfg, load_heads(cfg, model_dir), models_home)


def load_heads(cfg: AmpereConfig, model_dir: str | Path) -> AmpereHeads:
    """The trained heads of a model folder (strict: every tensor must fit the config)."""
    from safetensors.torch import load_file

    heads = AmpereHeads(cfg)
    heads.load_state_dict(load_file(str(Path(model_dir) / HEADS_NAME)), strict=True)
    return heads.eval()


def save_model_dir(cfg: AmpereConfig, heads: AmpereHeads, model_dir: str | Path) -> Path:
    """Write ``config.json`` + ``heads.safetensors`` (the small, shippable part of the model)."""
    from safetensors.torch import save_file

    model_dir = Path(model_dir)
    cfg.save(model_dir)
    state = {k: v.detach().cpu().contiguous() for k, v in heads.state_dict().items()}
    save_file(state, str(model_dir / HEADS_NAME), metadata={"name": cfg.name})
    return model_dir
