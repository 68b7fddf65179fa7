"""Training-free instance-retrieval steps on the frozen MobileNetV2, against the shipped visual features.

The shipped visual branch is the frozen backbone's global-average-pooled last conv map. Tried here,
with literature defaults fixed in advance (nothing fitted to these sets):

- ``gem``: generalized-mean pooling (p = 3) of the last conv map;
- ``gem multi-scale``: the mean of unit GeM vectors at input scales 1/√2, 1, √2;
- ``gem + stages``: unit GeM of the last map concatenated with unit GeM of stages 13 and 16;
- ``+ whitening``: PCA-whitening (shrunk eigenvalues) learned on the unlabeled gallery photos;
- ``+ αQE``: α-query-expansion (α = 3, the query and its top 2 gallery results);
- ``+ DBA``: database-side augmentation (each gallery vector averaged with its top 2 neighbours).

Sets: the renderings set (image → image; products split by a hash of their id into a validation and
a test half) and the simulated dataset (keyframes → product photos, visual only: the train split
validates, the test split reports). A variant is chosen on validation and reported on test, as a
paired R@1 difference to the shipped (frozen) features with a 95 % bootstrap interval::

    python -m tooling.bench.visual --renderings DIR --sim DIR
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from encoders.backbones import build_visual_backbone
from encoders.config import VisualConfig
from encoders.dataset import Dataset
from encoders.metrics import (
    first_relevant_ranks,
    paired_bootstrap_delta,
    relevance,
    retrieval_metrics,
)
from encoders.preprocess import preprocess_images

SCALES = (2 ** -0.5, 1.0, 2 ** 0.5)
STAGES = (13, 16)
GEM_P = 3.0
QE_ALPHA, QE_K, DBA_K = 3.0, 2, 2


def _unit(x: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return np.divide(x, n, out=np.zeros_like(x), where=n > 0)


def _gem(maps: torch.Tensor, p: float = GEM_P) -> torch.Tensor:
    return maps.clamp(min=1e-6).pow(p).mean(dim=(2, 3)).pow(1.0 / p)


class Descriptors:
    """Per image file: mean-pooled and GeM vectors of the last map, and GeM of earlier stages, per scale."""

    def __init__(self, cfg: VisualConfig, cache: Path) -> None:
        self.cfg, self.cache = cfg, cache
        self.data: dict[str, np.ndarray] = dict(np.load(cache)) if cache.is_file() else {}
        self._net = None

    def _run(self, paths: list[Path], scale: float) -> dict[str, np.ndarray]:
        if self._net is None:
            self._net = build_visual_backbone(self.cfg).features
        pixels = torch.from_numpy(preprocess_images([Image.open(p) for p in paths], self.cfg))
        size = round(self.cfg.image_size * scale)
        if size != self.cfg.image_size:
            pixels = torch.nn.functional.interpolate(pixels, size=(size, size), mode="bilinear", align_corners=False)
        out: dict[str, list] = {"mean": [], "gem": [], **{f"s{i}": [] for i in STAGES}}
        x = pixels
        with torch.inference_mode():
            for i, layer in enumerate(self._net):
                x = layer(x)
                if i in STAGES:
                    out[f"s{i}"] = _gem(x).numpy()
            out["mean"], out["gem"] = x.mean(dim=(2, 3)).numpy(), _gem(x).numpy()
        return out

    def get(self, paths: list[Path], kind: str, scale: float = 1.0) -> np.ndarray:
        """``[N, D]`` descriptors of ``kind`` (mean | gem | s13 | s16) at ``scale``, computed once."""
        keys = [hashlib.sha256(Path(p).read_bytes()).hexdigest()[:24] for p in paths]
        todo = sorted({k: p for k, p in zip(keys, paths, strict=True) if f"{k}:{scale:.3f}:{kind}" not in self.data}.items())
        for start in range(0, len(todo), 32):
            chunk = todo[start : start + 32]
            feats = self._run([p for _, p in chunk], scale)
            for j, (k, _) in enumerate(chunk):
                for name, arr in feats.items():
                    self.data[f"{k}:{scale:.3f}:{name}"] = arr[j].astype(np.float32)
            if (start // 32) % 8 == 7 or start + 32 >= len(todo):  # a stopped run resumes from here
                np.savez(self.cache, **self.data)
        return np.stack([self.data[f"{k}:{scale:.3f}:{kind}"] for k in keys])


Pool = Callable[[list[Path]], np.ndarray]


def variants(d: Descriptors, multi_scale: bool = True) -> dict[str, Pool]:
    """Image-file lists → unit vectors, one function per pooling variant (``multi_scale``: with the
    variant that needs two more forward passes per image)."""
    def gem_ms(ps: list[Path]) -> np.ndarray:
        return _unit(np.mean([_unit(d.get(ps, "gem", s)) for s in SCALES], axis=0))

    def stages(ps: list[Path]) -> np.ndarray:
        return _unit(np.concatenate([_unit(d.get(ps, "gem"))] + [_unit(d.get(ps, f"s{i}")) for i in STAGES], axis=1))

    pools = {"frozen (shipped: mean pool)": lambda ps: _unit(d.get(ps, "mean")),
             "gem": lambda ps: _unit(d.get(ps, "gem")),
             "gem + stages": stages}
    return pools | ({"gem multi-scale": gem_ms} if multi_scale else {})


def whitening(train: np.ndarray, dim: int = 256, shrink: float = 0.1) -> Callable[[np.ndarray], np.ndarray]:
    """PCA-whitening learned on unlabeled rows: centre, project on the top components, divide by the
    shrunk square root of their variance, L2-normalize."""
    mu = train.mean(axis=0)
    _, s, vt = np.linalg.svd(train - mu, full_matrices=False)
    k = min(dim, len(s), len(train) - 1)
    var = s[:k] ** 2 / len(train)
    scale = 1.0 / np.sqrt(var + shrink * var.mean())
    proj = vt[:k].T * scale
    return lambda x: _unit((x - mu) @ proj)


def alpha_qe(q: np.ndarray, g: np.ndarray, k: int = QE_K, alpha: float = QE_ALPHA) -> np.ndarray:
    """Each query averaged with its top-k gallery vectors, weighted by similarity^alpha."""
    sims = q @ g.T
    top = np.argsort(-sims, axis=1)[:, :k]
    w = np.clip(np.take_along_axis(sims, top, axis=1), 0, None) ** alpha
    return _unit(q + np.einsum("nk,nkd->nd", w, g[top]))


def dba(g: np.ndarray, k: int = DBA_K) -> np.ndarray:
    """Each gallery vector averaged with its top-k gallery neighbours (itself excluded)."""
    sims = g @ g.T
    np.fill_diagonal(sims, -np.inf)
    top = np.argsort(-sims, axis=1)[:, :k]
    return _unit(g + g[top].sum(axis=1))


def _ranks(q: np.ndarray, g: np.ndarray, rel: np.ndarray) -> np.ndarray:
    return first_relevant_ranks(q @ g.T, rel)


def evaluate_set(queries: list[list[Path]], qids: list[str], gallery: list[list[Path]], gids: list[str],
                 pools: dict[str, Pool], whiten_on: list[Path]) -> dict[str, np.ndarray]:
    """Ranks of every variant (pooling, then + whitening, + αQE, + DBA on the best-known chain)."""
    rel = relevance(qids, gids)
    out: dict[str, np.ndarray] = {}
    for name, pool in pools.items():
        def pooled(items: list[list[Path]], pool: Pool = pool) -> np.ndarray:
            flat = [p for ps in items for p in ps]
            vecs = pool(flat)
            rows, at = [], 0
            for ps in items:
                rows.append(_unit(vecs[at : at + len(ps)].mean(axis=0)))
                at += len(ps)
            return np.stack(rows)

        q, g = pooled(queries), pooled(gallery)
        out[name] = _ranks(q, g, rel)
        if name.startswith("frozen"):
            continue
        w = whitening(pool(whiten_on))
        qw, gw = w(q), w(g)
        out[f"{name} + whitening"] = _ranks(qw, gw, rel)
        out[f"{name} + whitening + αQE"] = _ranks(alpha_qe(qw, gw), gw, rel)
        out[f"{name} + whitening + DBA + αQE"] = _ranks(alpha_qe(qw, dba(gw)), dba(gw), rel)
        out[f"{name} + αQE"] = _ranks(alpha_qe(q, g), g, rel)
    return out


def _half(key: str) -> str:
    return "val" if int(hashlib.sha256(key.encode()).hexdigest(), 16) % 2 == 0 else "test"


def renderings_sets(ds: Dataset) -> dict[str, tuple]:
    """Image → image on the renderings set: the first rendering queries, the other is the gallery
    (all products' galleries, as in ``ampere eval``); queries split by a hash of the product id."""
    gallery = [[ds.path(p.images[1])] for p in ds.products]
    gids = [p.product_id for p in ds.products]
    out = {}
    for part in ("val", "test"):
        qs = [p for p in ds.products if _half(p.product_id) == part]
        out[part] = ([[ds.path(p.images[0])] for p in qs], [p.product_id for p in qs], gallery, gids)
    return out


def sim_sets(ds: Dataset, max_keyframes: int = 4) -> dict[str, tuple]:
    """Keyframes → product photos on the simulated set (all products as gallery); train validates, test reports."""
    from tooling.evaluate import pick_keyframes

    products = [p for p in ds.products if p.images]
    gallery = [[ds.path(r) for r in p.images] for p in products]
    gids = [p.product_id for p in products]
    out = {}
    for part, split in (("val", "train"), ("test", "test")):
        ms = [m for m in ds.moments if m.split == split and m.keyframes]
        out[part] = ([[ds.path(r) for r in pick_keyframes(m, max_keyframes)] for m in ms], [m.product_id for m in ms],
                     gallery, gids)
    return out


def run(sets: dict[str, dict[str, tuple]], d: Descriptors, multi_scale: bool = True) -> dict:
    """Per set: val and test metrics of every variant, the variant chosen on val (best R@1 over the
    frozen one), and its paired test difference to the frozen features."""
    pools = variants(d, multi_scale)
    report: dict = {}
    for set_name, parts in sets.items():
        whiten_on = sorted({p for ps in parts["test"][2] for p in ps})  # the unlabeled gallery photos
        res = {part: evaluate_set(*parts[part], pools, whiten_on) for part in ("val", "test")}
        frozen = "frozen (shipped: mean pool)"
        val_r1 = {k: float((v == 1).mean()) for k, v in res["val"].items()}
        chosen = max(val_r1, key=lambda k: (val_r1[k], k == frozen))
        rows = []
        for name in res["test"]:
            delta, lo, hi = paired_bootstrap_delta(res["test"][frozen], res["test"][name])
            m = retrieval_metrics(res["test"][name])
            rows.append({"variant": name, "val_R@1": round(val_r1[name], 3), "test_R@1": round(m["R@1"], 3),
                         "test_R@5": round(m["R@5"], 3), "delta_R@1": round(delta, 3), "ci": [round(lo, 3), round(hi, 3)]})
        report[set_name] = {"val_queries": len(res["val"][frozen]), "test_queries": len(res["test"][frozen]),
                            "gallery": len(parts["test"][2]), "chosen_on_val": chosen, "rows": rows}
    return report


def markdown(report: dict) -> str:
    lines = []
    for set_name, r in report.items():
        lines += [f"### {set_name}: {r['val_queries']} validation and {r['test_queries']} test queries, gallery {r['gallery']}",
                  "", f"Chosen on validation: **{r['chosen_on_val']}**.", "",
                  "| variant | val R@1 | test R@1 | test R@5 | test ΔR@1 vs frozen (95 % CI) |",
                  "| --- | ---: | ---: | ---: | ---: |"]
        lines += [f"| {x['variant']} | {x['val_R@1']:.3f} | {x['test_R@1']:.3f} | {x['test_R@5']:.3f} | "
                  f"{x['delta_R@1']:+.3f} ({x['ci'][0]:+.3f}…{x['ci'][1]:+.3f}) |" for x in r["rows"]]
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--renderings", type=Path, default=None)
    ap.add_argument("--sim", type=Path, default=None)
    ap.add_argument("--cache", type=Path, default=Path("visual-descriptors.npz"))
    ap.add_argument("--out", type=Path, default=Path("bench/results"))
    ap.add_argument("--no-multi-scale", action="store_true", help="Skip the variant that needs 3 passes per image.")
    args = ap.parse_args()
    sets = {}
    if args.renderings:
        sets["renderings (image → image)"] = renderings_sets(Dataset.load(args.renderings))
    if args.sim:
        sets["sim (keyframes → product photos, visual only)"] = sim_sets(Dataset.load(args.sim))
    report = run(sets, Descriptors(VisualConfig(), args.cache), multi_scale=not args.no_multi_scale)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "visual-retrieval.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (args.out / "visual-retrieval.md").write_text(markdown(report), encoding="utf-8")
    print(markdown(report))


if __name__ == "__main__":
    main()
