"""Config round trip, model hash / version, and the masking maths of the heads."""

from __future__ import annotations

import pytest
import torch

from encoders.config import SHIPPED_MODEL_DIR, AmpereConfig, model_hash, model_version
from encoders.heads import AmpereHeads, masked_attention_pool
from encoders.model import save_model_dir


def test_config_round_trip() -> None:
    cfg = AmpereConfig(dim=64, max_frames=3)
    assert AmpereConfig.from_dict(__import__("json").loads(cfg.to_json())) == cfg
    shipped = AmpereConfig.load(SHIPPED_MODEL_DIR)
    assert shipped.dim == 256 and shipped.projection == "pca-residual"


def test_model_version_follows_the_weights(tmp_path) -> None:
    cfg = AmpereConfig(dim=32, hidden_dim=32)
    torch.manual_seed(0)
    save_model_dir(cfg, AmpereHeads(cfg), tmp_path / "a")
    torch.manual_seed(0)
    save_model_dir(cfg, AmpereHeads(cfg), tmp_path / "b")
    torch.manual_seed(1)
    save_model_dir(cfg, AmpereHeads(cfg), tmp_path / "c")
    assert model_hash(tmp_path / "a") == model_hash(tmp_path / "b") != model_hash(tmp_path / "c")
    assert model_version(tmp_path / "a").startswith("ampere-v1-") and len(model_version(tmp_path / "a")) == 22


def test_masked_pool_ignores_masked_tokens_even_nan() -> None:
    tokens = torch.tensor([[[1.0, 0.0], [float("nan"), 5.0]]])
    scores = torch.tensor([[0.0, 100.0]])
    out = masked_attention_pool(tokens, scores, torch.tensor([[1.0, 0.0]]))
    assert torch.equal(out, torch.tensor([[1.0, 0.0]]))


def test_each_domain_has_its_own_fusion() -> None:
    cfg = AmpereConfig(dim=16, hidden_dim=16)
    torch.manual_seed(0)
    heads = AmpereHeads(cfg).eval()
    with torch.no_grad():
        for f in heads.fusion:
            torch.nn.init.normal_(f.out.weight)
    frames, fmask = torch.randn(1, 2, 16).repeat(3, 1, 1), torch.ones(3, 2)
    text, tmask = torch.randn(1, 16).repeat(3, 1), torch.ones(3)
    fused, visual, _ = heads.fuse(frames, fmask, text, tmask, torch.eye(3))
    assert torch.allclose(visual[0], visual[1])
    assert not torch.allclose(fused[0], fused[1]) and not torch.allclose(fused[1], fused[2])


def test_pca_residual_projection_starts_from_the_backbone_neighbourhoods() -> None:
    import torch.nn.functional as F

    from encoders.heads import PcaResidualProjection

    torch.manual_seed(0)
    # rank-9 features (8 directions + an offset): 10 components keep every cosine
    feats = torch.randn(64, 8) @ torch.randn(8, 40) + 5.0
    proj = PcaResidualProjection(40, 16, 10)
    proj.init_pca(feats)
    tokens = F.normalize(proj(feats), dim=-1)
    centred = F.normalize(F.normalize(feats, dim=-1) - proj.mean, dim=-1)
    student, teacher = tokens @ tokens.t(), centred @ centred.t()
    assert (student - teacher).abs().max() < 1e-3
    assert torch.equal((student - 2 * torch.eye(64)).argmax(1), (teacher - 2 * torch.eye(64)).argmax(1))
    again = PcaResidualProjection(40, 16, 10)
    again.init_pca(feats)
    assert torch.equal(again.linear.weight, proj.linear.weight)  # deterministic, signs fixed


def test_unknown_projection_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown projection"):
        AmpereHeads(AmpereConfig(projection="conv"))


def test_similarity_preserving_loss_is_zero_only_when_cosines_agree() -> None:
    import torch.nn.functional as F

    from encoders.train import similarity_preserving

    x = F.normalize(torch.randn(6, 5), dim=-1)
    valid = torch.ones(6, dtype=torch.bool)
    assert similarity_preserving(x, x, valid).item() == pytest.approx(0.0, abs=1e-7)
    assert similarity_preserving(F.normalize(torch.randn(6, 5), dim=-1), x, valid).item() > 0.01
