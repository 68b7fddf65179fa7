"""The trainable AMPere heads: branch projections, temporal pooling and per-domain fusion.

They work on backbone features, so training runs on cached features. Missing modalities are
masked out of every attention (never zero-filled), and masked tokens cannot leak into the output.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from encoders.config import AmpereConfig


def masked_attention_pool(tokens: torch.Tensor, scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Softmax-weighted sum of ``tokens [B,T,D]`` by ``scores [B,T]`` over ``mask [B,T]`` (1 = real)."""
    keep = mask > 0.5
    scores = torch.where(keep, scores, torch.full_like(scores, -1e9))
    weights = torch.softmax(scores, dim=1) * mask
    weights = weights / weights.sum(dim=1, keepdim=True).clamp(min=1e-9)
    tokens = torch.where(keep.unsqueeze(-1), tokens, torch.zeros_like(tokens))
    return (tokens * weights.unsqueeze(-1)).sum(dim=1)


def _projection(in_dim: int, hidden: int, out_dim: int) -> nn.Module:
    return nn.Sequential(nn.LayerNorm(in_dim), nn.Linear(in_dim, hidden), nn.GELU(), nn.Linear(hidden, out_dim))


class PcaResidualProjection(nn.Module):
    """``W (unit(x) - mean) + MLP(x)``: W starts as the top principal components of the backbone's
    unit features and the MLP's last layer at zero, so the untrained token keeps the backbone's
    cosine neighbourhoods (up to the dropped components)."""

    def __init__(self, in_dim: int, hidden: int, out_dim: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(in_dim))
        self.linear = nn.Linear(in_dim, out_dim, bias=False)
        self.residual = _projection(in_dim, hidden, out_dim)
        nn.init.zeros_(self.residual[-1].weight)
        nn.init.zeros_(self.residual[-1].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(F.normalize(x, dim=-1) - self.mean) + self.residual(x)

    @torch.no_grad()
    def init_pca(self, features: torch.Tensor) -> None:
        """Set ``mean`` and ``W`` from backbone features ``[N, in_dim]`` (deterministic: float64 SVD,
        each component's sign fixed so that its largest entry is positive)."""
        x = F.normalize(features.double(), dim=-1)
        mean = x.mean(dim=0)
        _, _, vt = torch.linalg.svd(x - mean, full_matrices=False)
        k = min(self.linear.out_features, vt.shape[0])
        comps = vt[:k]
        signs = torch.sign(comps.gather(1, comps.abs().argmax(dim=1, keepdim=True)))
        comps = comps * signs
        weight = torch.zeros_like(self.linear.weight, dtype=torch.float64)
        weight[:k] = comps
        self.mean.copy_(mean.float())
        self.linear.weight.copy_(weight.float())


def make_projection(kind: str, in_dim: int, hidden: int, out_dim: int) -> nn.Module:
    """A branch projection of the configured kind."""
    if kind == "mlp":
        return _projection(in_dim, hidden, out_dim)
    if kind == "pca-residual":
        return PcaResidualProjection(in_dim, hidden, out_dim)
    raise ValueError(f"unknown projection {kind!r} (known: mlp, pca-residual)")


class DomainFusion(nn.Module):
    """Attention-pools the [visual, text] tokens of one domain into its fused vector."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.modality = nn.Parameter(torch.zeros(2, dim))
        self.score = nn.Sequential(nn.Linear(dim, dim), nn.Tanh(), nn.Linear(dim, 1))
        self.out = nn.Linear(dim, dim)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        scores = self.score(tokens + self.modality).squeeze(-1)
        pooled = masked_attention_pool(tokens, scores, mask)
        return pooled + self.out(pooled)


class AmpereHeads(nn.Module):
    """Everything trainable of the model."""

    def __init__(self, cfg: AmpereConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.visual_proj = make_projection(cfg.projection, cfg.visual.feature_dim, cfg.hidden_dim, cfg.dim)
        self.text_proj = make_projection(cfg.projection, cfg.text.feature_dim, cfg.hidden_dim, cfg.dim)
        self.temporal_score = nn.Sequential(nn.Linear(cfg.dim, cfg.dim // 2), nn.Tanh(), nn.Linear(cfg.dim // 2, 1))
        self.fusion = nn.ModuleList(DomainFusion(cfg.dim) for _ in cfg.domains)

    def image_token(self, features: torch.Tensor) -> torch.Tensor:
        """Backbone image features ``[N, Fv]`` -> frame tokens ``[N, token_dim]``: the projected visual
        token, followed by the unit backbone feature when the visual branch keeps the backbone's space."""
        token = self.visual_proj(features)
        if self.cfg.visual_branch == "backbone":
            token = torch.cat([token, F.normalize(features, dim=-1)], dim=-1)
        return token

    def text_token(self, features: torch.Tensor) -> torch.Tensor:
        """Backbone text features ``[N, Ft]`` -> text tokens ``[N, dim]``."""
        return self.text_proj(features)

    def fuse(
        self,
        frame_tokens: torch.Tensor,
        frame_mask: torch.Tensor,
        text_token: torch.Tensor,
        text_mask: torch.Tensor,
        domain_onehot: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Tokens of a batch -> L2-normalized (fused, visual, text); masked branches give zero rows.

        The frame weights come from the projected tokens; with ``visual_branch="backbone"`` the same
        weights pool the unit backbone features into the visual branch vector."""
        visual_mask = (frame_mask.sum(dim=1, keepdim=True) > 0.5).to(frame_tokens.dtype)
        text_mask = text_mask.unsqueeze(-1)
        d = self.cfg.dim
        tokens_d = frame_tokens[..., :d]
        scores = self.temporal_score(tokens_d).squeeze(-1)
        visual = masked_attention_pool(tokens_d, scores, frame_mask)
        visual_out = visual
        if self.cfg.visual_branch == "backbone":
            visual_out = masked_attention_pool(frame_tokens[..., d:], scores, frame_mask)
        text = torch.where(text_mask > 0.5, text_token, torch.zeros_like(text_token))
        tokens = torch.stack([visual, text], dim=1)
        mask = torch.cat([visual_mask, text_mask], dim=1)
        per_domain = torch.stack([fusion(tokens, mask) for fusion in self.fusion], dim=1)
        fused = (per_domain * domain_onehot.unsqueeze(-1)).sum(dim=1)
        return (
            F.normalize(fused, dim=-1),
            F.normalize(visual_out, dim=-1) * visual_mask,
            F.normalize(text, dim=-1) * text_mask,
        )
