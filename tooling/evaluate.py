"""`ampere eval`: cross-domain retrieval on a dataset's held-out split, with AMPere's ablation rows.

Directions: live → product, video → product (a moment finds its catalog product) and product → live
(a product finds the live segments that show it). Rows:

- ``visual only``: keyframes vs product photos, both text branches masked;
- ``text only (raw ASR)`` / ``text only (summary: E)``: no images on either side;
- ``visual + raw ASR``: keyframes + the raw transcript (what a system without the LLM would do);
- ``visual + summary: E (AMPere)``: keyframes + the summarizer's sentence, for each engine E;
- ``frozen backbone: ...``: the untrained baseline (cosine on pooled MobileNetV2 features, or on MiniLM
  sentence vectors), so every table shows whether training helped;
- ``no speech vs photo + text``: the production shape of a silent window (keyframes only) against
  catalog products encoded with photo + text, scored by the rule and, for comparison, on fused vectors.

Products are encoded with their photos and/or their text (title, brand, attributes) in the same
modalities as the row's queries unless the row says otherwise. Pairs are scored by the one rule of
``encoders.scoring``: the mean cosine over the branches both sides have (fused when they share none).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, is_dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from PIL import Image

from encoders.attributes import attribute_values, said_matrix, terms
from encoders.baseline import FrozenBackbone
from encoders.dataset import Dataset, MomentRecord, ProductRecord
from encoders.metrics import (
    first_relevant_ranks,
    paired_bootstrap_delta,
    relevance,
    retrieval_metrics,
)
from encoders.scoring import Branches, similarity, with_attributes
from engines.encode.base import EncodeItem, Encoder, branch_dims
from tooling.summaries import load_or_summarize, summaries_path

Progress = Callable[[str, int, int], None]
DIRECTIONS = ("live→product", "video→product", "product→live")


@dataclass(frozen=True)
class EvalConfig:
    """What to evaluate and how."""

    split: str = "test"
    gallery: str = "all"
    """"all": every product of the dataset, as in production (queries still from the split only);
    "split": the split's products only."""
    summarizers: tuple[str, ...] = ("extractive",)
    max_moments: int | None = None
    """Evaluate a fixed subset of the split's moments (picked by a hash of their ids), e.g. when a
    slow LLM summarizer cannot cover them all; every row uses the same subset."""
    cached_only: bool = False
    """Keep only moments whose summaries every listed engine already has in its cache file
    (nothing is summarized): for LLM runs that covered part of the split."""
    max_keyframes: int = 4
    batch_size: int = 32
    encoder_engine: str = ""
    model_dir: str = ""


@dataclass(frozen=True)
class Ablation:
    """One row: which modalities the queries and the gallery keep."""

    name: str
    images: bool
    text: str  # "none" | "raw" | "summary:<engine>"
    products: tuple[bool, bool] | None = None
    """(photos, text) of the gallery products; None: the same modalities as the queries."""
    scoring: str = "rule"
    """"rule": ``encoders.scoring``; "fused": cosine on fused vectors (the pre-rule way); "backbone": frozen features, no heads."""

    def product_modalities(self) -> tuple[bool, bool]:
        return self.products if self.products is not None else (self.images, self.text != "none")


@dataclass
class EvalResult:
    """Metrics of every row and direction, plus where they came from."""

    meta: dict
    rows: list[dict]
    image_to_image: dict = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps({"meta": self.meta, "rows": self.rows, "image_to_image": self.image_to_image},
                          indent=2, ensure_ascii=False, allow_nan=True)

    def markdown(self) -> str:
        return results_markdown(self)


NO_SPEECH = "no speech vs photo + text (production shape)"
NO_SPEECH_FUSED = "no speech vs photo + text, fused vectors"
FROZEN_VISUAL = "frozen backbone: visual (MobileNetV2 cosine)"
FROZEN_RAW = "frozen backbone: text raw ASR (MiniLM cosine)"
FROZEN_VISUAL_RAW = "frozen backbone: visual + raw ASR"


def ablations(summarizers: Sequence[str], baselines: bool = True) -> list[Ablation]:
    """The rows, in report order (``baselines``: with the frozen-backbone rows)."""
    rows = []
    if baselines:
        rows += [Ablation(FROZEN_VISUAL, True, "none", scoring="backbone"),
                 Ablation(FROZEN_RAW, False, "raw", scoring="backbone")]
        rows += [Ablation(f"frozen backbone: text summary: {e} (MiniLM cosine)", False, f"summary:{e}", scoring="backbone")
                 for e in summarizers]
        rows.append(Ablation(FROZEN_VISUAL_RAW, True, "raw", scoring="backbone"))
        rows += [Ablation(f"frozen backbone: visual + summary: {e}", True, f"summary:{e}", scoring="backbone")
                 for e in summarizers]
    rows += [Ablation("visual only", True, "none"), Ablation("text only (raw ASR)", False, "raw")]
    rows += [Ablation(f"text only (summary: {e})", False, f"summary:{e}") for e in summarizers]
    rows.append(Ablation("visual + raw ASR", True, "raw"))
    rows += [Ablation(f"visual + summary: {e} (AMPere)", True, f"summary:{e}") for e in summarizers]
    rows += [Ablation(NO_SPEECH, True, "none", products=(True, True)),
             Ablation(NO_SPEECH_FUSED, True, "none", products=(True, True), scoring="fused")]
    return rows


def pick_keyframes(moment: MomentRecord, n: int) -> list[str]:
    """Up to ``n`` keyframe paths spread evenly over the moment."""
    frames = [k.path for k in moment.keyframes]
    if len(frames) <= n:
        return frames
    idx = np.linspace(0, len(frames) - 1, n).round().astype(int)
    return [frames[i] for i in idx]


class _Images:
    """Dataset images opened once, as RGB."""

    def __init__(self, dataset: Dataset):
        self._ds = dataset
        self._cache: dict[str, Image.Image] = {}

    def __call__(self, rel: str) -> Image.Image:
        if rel not in self._cache:
            with Image.open(self._ds.path(rel)) as im:
                self._cache[rel] = im.convert("RGB")
        return self._cache[rel]


def is_empty(item: EncodeItem) -> bool:
    """True when the item has neither images nor text (nothing the encoder could embed)."""
    return not item.images and not (item.text or "").strip()


def encode_all(encoder: Encoder, items: list[EncodeItem], batch_size: int, stage: str, progress: Progress | None) -> Branches:
    """Fused and branch embeddings of ``items`` in input order, encoded in batches; empty items get zero rows."""
    full = [i for i, it in enumerate(items) if not is_empty(it)]
    n = len(items)
    dims = branch_dims(encoder)
    out = Branches(*(np.zeros((n, dims[b]), np.float32) for b in ("fused", "visual", "text")), np.zeros(n, bool), np.zeros(n, bool))
    for start in range(0, len(full), batch_size):
        idx = full[start : start + batch_size]
        emb = encoder.encode([items[i] for i in idx])
        for name in ("fused", "visual", "text", "visual_mask", "text_mask"):
            getattr(out, name)[idx] = np.asarray(getattr(emb, name))
        if progress:
            progress(stage, min(start + batch_size, len(full)), len(full))
    return out


def fused_only(b: Branches) -> Branches:
    """The same rows seen as fused vectors only (how search worked before the rule)."""
    n = len(b.fused)
    return Branches(b.fused, b.visual, b.text, np.zeros(n, bool), np.zeros(n, bool))


def cached_moment_ids(dataset: Dataset, engine: str) -> set[str]:
    """Ids of the moments whose summary by ``engine`` is in the cache file."""
    path = summaries_path(dataset.root, engine)
    if not path.exists():
        return set()
    return {json.loads(line)["moment_id"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()}


def subset(moments: list[MomentRecord], n: int | None) -> list[MomentRecord]:
    """The first ``n`` moments in the order of a hash of their ids (all when ``n`` is None), in input order."""
    if n is None or n >= len(moments):
        return moments
    keep = set(sorted((m.moment_id for m in moments), key=lambda k: hashlib.sha256(k.encode()).hexdigest())[:n])
    return [m for m in moments if m.moment_id in keep]


def spoken_said(moments: list[MomentRecord], products: list[ProductRecord], with_speech: bool) -> np.ndarray:
    """``[moments, products]``: how many of each product's attribute values each moment's transcript
    says (all zero for rows without speech), as the tag agent matches them."""
    values = [attribute_values(p.attributes) for p in products]
    spoken = [set(terms(m.asr_text)) if with_speech and m.asr_text.strip() else None for m in moments]
    return np.asarray(said_matrix(spoken, values), dtype=np.float64).reshape(len(moments), len(products))


def _direction_metrics(prod_emb: Branches, products: list[ProductRecord], mom_emb: Branches,
                       moments: list[MomentRecord], mom_empty: np.ndarray, said: np.ndarray | None = None) -> dict[str, dict]:
    """Metrics per direction, by the rule (vectors, then spoken attribute values ``said``). A moment
    with nothing to encode (e.g. an empty summary in a text-only row) is a miss: as a query it gets
    the worst rank, in a gallery it is ranked last."""
    out = {}
    pids = [p.product_id for p in products]
    groups = {p.product_id: p.group or p.product_id for p in products}
    said = np.zeros((len(moments), len(products))) if said is None else said
    for domain in ("live", "video"):
        idx = [i for i, m in enumerate(moments) if m.domain == domain]
        if not idx:
            continue
        sim = with_attributes(similarity(mom_emb.take(idx), prod_emb), said[idx])
        rel = relevance([moments[i].product_id for i in idx], pids)
        ranks = first_relevant_ranks(sim, rel)
        ranks[mom_empty[idx] & (ranks > 0)] = len(pids)
        out[f"{domain}→product"] = retrieval_metrics(ranks) | {
            "ranks": ranks.tolist(),
            "empty_queries": int(mom_empty[idx].sum()),
            "group@1": _group_at_1(sim, [groups[moments[i].product_id] for i in idx], products, mom_empty[idx]),
        }
    live = [i for i, m in enumerate(moments) if m.domain == "live"]
    if live:
        sim = with_attributes(similarity(prod_emb, mom_emb.take(live)), said[live].T)
        sim[:, mom_empty[live]] = -np.inf
        rel = relevance(pids, [moments[i].product_id for i in live])
        ranks = first_relevant_ranks(sim, rel)
        out["product→live"] = retrieval_metrics(ranks) | {"ranks": ranks.tolist()}
    return out


def _group_at_1(sim: np.ndarray, query_groups: list[str], products: list[ProductRecord], empty: np.ndarray) -> float:
    """Share of queries whose top-1 product is in the true product's group (variant or near-duplicate
    confusions count as hits here; R@1 minus this is the share lost to other items entirely)."""
    if not len(query_groups):
        return float("nan")
    top = sim.argmax(axis=1)
    hits = [(products[t].group or products[t].product_id) == g and not e for t, g, e in zip(top, query_groups, empty)]
    return float(np.mean(hits))


def image_to_image(dataset: Dataset, encoder: Encoder, config: EvalConfig, images: _Images,
                   backbone: FrozenBackbone | None = None) -> dict:
    """Real photo → real photo: products (not derived) with ≥ 2 distinct photos; one queries, the rest
    are gallery. Scored by the rule (visual branch) and, with ``backbone``, on frozen features."""
    real = [p for p in dataset.products if not p.derived]
    qualifying = [p for p in real if len(dict.fromkeys(p.images)) >= 2]
    result: dict = {"qualifying_products": len(qualifying), "real_products": len(real)}
    if not qualifying:
        result["note"] = "no product has two or more real photos; image→image needs multi-view products"
        return result
    queries = [(p.product_id, p.images[0]) for p in qualifying]
    seen: set[str] = {q[1] for q in queries}
    gallery: list[tuple[str, str]] = []
    for p in real:
        for rel in dict.fromkeys(p.images):
            if rel not in seen:
                seen.add(rel)
                gallery.append((p.product_id, rel))
    q_emb = encode_all(encoder, [EncodeItem("product", [images(r)], None) for _, r in queries], config.batch_size, "image→image", None)
    g_emb = encode_all(encoder, [EncodeItem("product", [images(r)], None) for _, r in gallery], config.batch_size, "image→image", None)
    rel = relevance([q[0] for q in queries], [g[0] for g in gallery])
    ranks = first_relevant_ranks(similarity(q_emb, g_emb), rel)
    result["gallery_photos"] = len(gallery)
    result["metrics"] = retrieval_metrics(ranks) | {"ranks": ranks.tolist()}
    if backbone is not None:
        qb = backbone.encode([[dataset.path(r)] for _, r in queries], [None] * len(queries))
        gb = backbone.encode([[dataset.path(r)] for _, r in gallery], [None] * len(gallery))
        fr = first_relevant_ranks(similarity(qb, gb), rel)
        result["frozen_backbone"] = retrieval_metrics(fr) | {"ranks": fr.tolist()}
    return result


def default_backbone(encoder: Encoder) -> FrozenBackbone | None:
    """The frozen backbones of the encoder's own config (None when it has no AMPere config)."""
    from encoders.config import AmpereConfig

    cfg = getattr(encoder, "cfg", None)
    if not isinstance(cfg, AmpereConfig):
        return None
    return FrozenBackbone(cfg.visual, cfg.text, getattr(encoder, "models_home", None))


def nothing_to_evaluate(dataset: Dataset, config: EvalConfig, products: list[ProductRecord],
                        split_moments: list[MomentRecord]) -> str:
    """Why a split cannot be evaluated: what it lacks, and which splits the dataset has."""
    where = f"split '{config.split}'" if config.split != "all" else "the dataset"
    if not products:
        missing = f"{where} has no products" + (" (gallery 'split')" if config.gallery == "split" else "")
    elif split_moments:
        missing = (f"{where} has {len(split_moments)} moments but none is left to evaluate"
                   + (" (--cached-only: no summary of every listed engine is cached)" if config.cached_only else ""))
    else:
        missing = (f"{where} has no moments (live or video segments) and no product with 2 or more photos"
                   " (image→image)")
    splits = sorted({p.split for p in dataset.products} | {m.split for m in dataset.moments})
    return f"{missing}: nothing to evaluate; splits in this dataset: {', '.join(splits) or 'none'}"


def evaluate(dataset: Dataset, encoder: Encoder, config: EvalConfig = EvalConfig(), progress: Progress | None = None,
             backbone: FrozenBackbone | None = None) -> EvalResult:
    """Run every ablation row on the ``config.split`` products and moments (frozen-backbone rows with
    ``backbone``, by default the encoder's own backbones)."""
    backbone = backbone or default_backbone(encoder)
    part = dataset.split(config.split) if config.split != "all" else dataset
    products = dataset.products if config.gallery == "all" else part.products
    moments = subset(part.moments, config.max_moments)
    if config.cached_only:
        for engine in config.summarizers:
            have = cached_moment_ids(dataset, engine)
            moments = [m for m in moments if m.moment_id in have]
    photo_only = not part.moments and any(len(dict.fromkeys(p.images)) >= 2 for p in products)
    if not products or (not moments and not photo_only):
        raise ValueError(nothing_to_evaluate(dataset, config, products, part.moments))
    images = _Images(dataset)
    texts: dict[str, dict[str, str | None]] = {"none": {m.moment_id: None for m in moments},
                                                "raw": {m.moment_id: (m.asr_text or None) for m in moments}}
    stats: dict[str, dict] = {}
    for engine in config.summarizers:
        summaries = load_or_summarize(dataset, moments, engine, progress=progress)
        texts[f"summary:{engine}"] = {k: (None if s.is_empty else s.sentence) for k, s in summaries.items()}
        stats[engine] = {"moments": len(summaries), "empty": sum(s.is_empty for s in summaries.values()),
                         "fallback": sum(s.source != engine for s in summaries.values())}
    product_cache: dict[tuple[bool, bool, bool], Branches] = {}
    said_cache: dict[str, np.ndarray] = {}
    rows = []
    for ab in ablations(config.summarizers, baselines=backbone is not None) if moments else []:
        p_img, p_txt = ab.product_modalities()
        frozen = ab.scoring == "backbone"
        key = (p_img, p_txt, frozen)
        frames = [pick_keyframes(m, config.max_keyframes) if ab.images else [] for m in moments]
        m_texts = [texts[ab.text][m.moment_id] for m in moments]
        if key not in product_cache:
            if frozen and backbone is not None:
                product_cache[key] = backbone.encode([[dataset.path(r) for r in p.images] if p_img else [] for p in products],
                                                     [p.text if p_txt else None for p in products])
            else:
                items = [EncodeItem("product", [images(r) for r in p.images] if p_img else [], p.text if p_txt else None)
                         for p in products]
                product_cache[key] = encode_all(encoder, items, config.batch_size, "encode products", progress)
        if frozen and backbone is not None:
            mom_emb = backbone.encode([[dataset.path(r) for r in fs] for fs in frames], m_texts)
        else:
            items = [EncodeItem(m.domain, [images(r) for r in fs], t) for m, fs, t in zip(moments, frames, m_texts)]
            mom_emb = encode_all(encoder, items, config.batch_size, f"encode moments: {ab.name}", progress)
        prod_emb = product_cache[key]
        if ab.scoring == "fused":
            mom_emb, prod_emb = fused_only(mom_emb), fused_only(prod_emb)
        empty = np.array([not fs and not (t or "").strip() for fs, t in zip(frames, m_texts)], dtype=bool)
        if ab.text not in said_cache:
            said_cache[ab.text] = spoken_said(moments, products, with_speech=ab.text != "none")
        rows.append({"name": ab.name, "images": ab.images, "text": ab.text, "scoring": ab.scoring,
                     "products": list(ab.product_modalities()),
                     **_direction_metrics(prod_emb, products, mom_emb, moments, empty, said_cache[ab.text])})
    i2i = image_to_image(dataset, encoder, config, images, backbone)
    meta = _meta(dataset, products, moments, encoder, config) | {"summary_stats": stats}
    return EvalResult(meta=meta, rows=rows, image_to_image=i2i)


def _git_commit() -> str:
    root = Path(__file__).resolve().parents[1]
    try:
        sha = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=root, capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "encoders", "engines", "tooling/sim"], cwd=root, capture_output=True, text=True, check=False).stdout.strip()
        return sha + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _display_path(path: Path) -> str:
    """The dataset path without machine-specific prefixes."""
    from streams.settings import get_settings

    path = path.resolve()
    for base, label in ((get_settings().home.resolve(), "$AMPERE_HOME"), (Path.cwd().resolve(), ".")):
        if path.is_relative_to(base):
            return f"{label}/{path.relative_to(base)}"
    return path.name


def _meta(dataset: Dataset, products: list[ProductRecord], moments: list[MomentRecord], encoder: Encoder,
          config: EvalConfig) -> dict:
    info_file = dataset.root / "dataset.json"
    info = json.loads(info_file.read_text(encoding="utf-8")) if info_file.exists() else {}
    cfg = getattr(encoder, "cfg", None)
    model_cfg = asdict(cfg) if cfg is not None and is_dataclass(cfg) else None
    return {
        "dataset": _display_path(dataset.root),
        "dataset_info": {k: info[k] for k in ("generator", "config", "catalog") if k in info},
        "split": config.split,
        "gallery": config.gallery,
        "products": len(products),
        "live_moments": sum(m.domain == "live" for m in moments),
        "video_moments": sum(m.domain == "video" for m in moments),
        "max_moments": config.max_moments,
        "cached_only": config.cached_only,
        "derived_products": sum(bool(p.derived) for p in products),
        "encoder": {"engine": config.encoder_engine, "model_dir": config.model_dir,
                    "model_version": getattr(encoder, "model_version", "?"), "dim": getattr(encoder, "dim", None),
                    "config": model_cfg},
        "summarizers": list(config.summarizers),
        "max_keyframes": config.max_keyframes,
        "commit": _git_commit(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def _fmt(metrics: dict | None, with_group: bool) -> list[str]:
    if not metrics or not metrics.get("n"):
        return ["–"] * (6 if with_group else 5)
    cells = [f"{metrics['R@1']:.3f}", f"{metrics['R@5']:.3f}", f"{metrics['R@10']:.3f}",
             f"{metrics['median_rank']:.1f}", f"{metrics['mean_rank']:.1f}"]
    if with_group:
        cells.append(f"{metrics['group@1']:.3f}")
    return cells


def compare_rows(result: EvalResult, base: str, other: str) -> str | None:
    """One line: R@1 of ``other`` minus ``base`` per direction, with 95 % paired-bootstrap intervals."""
    by_name = {r["name"]: r for r in result.rows}
    a, b = by_name.get(base), by_name.get(other)
    if not a or not b:
        return None
    parts = []
    for d in DIRECTIONS:
        if d in a and d in b and a[d].get("n"):
            delta, lo, hi = paired_bootstrap_delta(np.array(a[d]["ranks"]), np.array(b[d]["ranks"]))
            parts.append(f"{d} {a[d]['R@1']:.3f} → {b[d]['R@1']:.3f} ({delta:+.3f}, 95% CI {lo:+.3f}…{hi:+.3f})")
    return f"- **{other}** vs {base}, R@1: " + "; ".join(parts) if parts else None


def summary_vs_raw(result: EvalResult) -> list[str]:
    """The comparisons that test AMPere's claims (text over visual only, summary over raw ASR), that
    training beats the frozen backbone, and that a missing modality does not hurt."""
    lines = [compare_rows(result, FROZEN_VISUAL, "visual only"), compare_rows(result, FROZEN_RAW, "text only (raw ASR)"),
             compare_rows(result, "visual only", NO_SPEECH), compare_rows(result, "visual only", NO_SPEECH_FUSED),
             compare_rows(result, FROZEN_VISUAL_RAW, "visual + raw ASR"), compare_rows(result, "visual only", "visual + raw ASR")]
    for engine in result.meta.get("summarizers", []):
        amp = f"visual + summary: {engine} (AMPere)"
        lines += [compare_rows(result, "visual only", amp), compare_rows(result, "visual + raw ASR", amp)]
    return [line for line in lines if line]


def results_markdown(result: EvalResult) -> str:
    """The report: where the numbers came from, one table per direction, image→image, the verdict."""
    m = result.meta
    enc = m["encoder"]
    lines = [
        "## Retrieval results",
        "",
        (f"- dataset: `{m['dataset']}` ({m.get('dataset_info', {}).get('generator', 'external')}), "
         f"split `{m['split']}`, gallery `{m.get('gallery', 'split')}`: {m['products']} products "
         f"({m['derived_products']} derived near-duplicates), "
         f"{m['live_moments']} live and {m['video_moments']} video moments"
         + (f" (a fixed hashed subset of {m['max_moments']})" if m.get("max_moments") else "")
         + (" (only moments every engine had summarized)" if m.get("cached_only") else "")),
        (f"- encoder: `{enc['model_version']}` on `{enc['engine']}` (model `{enc['model_dir']}`, dim {enc['dim']}), "
         f"≤ {m['max_keyframes']} keyframes per moment"),
        f"- summarizers: {', '.join(m['summarizers']) or 'none'}"
        + "".join(f"; {e}: {c['empty']} of {c['moments']} summaries empty ({c['fallback']} fell back)"
                  for e, c in m.get("summary_stats", {}).items())
        + f"; commit `{m['commit']}`; {m['date']}",
        ("- group@1: top-1 product is in the true product's group (its variants and near-duplicates);"
         " R@1 < group@1 means near-duplicate confusions"),
        ("- scoring (`encoders.scoring`, as in the tag agent and `ampere search`): mean cosine over the branches"
         " (visual, text) both sides have, fused only when they share none, then +0.05 per product attribute value"
         " the moment's speech says among its 20 best (rows with speech); *frozen backbone* rows apply it to"
         " pooled frozen features (no trained head); *no speech vs photo + text* is a silent window against the"
         " catalog as indexed, by the rule and by cosine on fused vectors"),
        "",
    ]
    for d in DIRECTIONS:
        if not any(d in r for r in result.rows):
            continue
        n = next((r[d]["n"] for r in result.rows if d in r), 0)
        grp = d.endswith("→product")
        lines += [f"### {d} ({n} queries)", "",
                  "| row | R@1 | R@5 | R@10 | median rank | mean rank |" + (" group@1 |" if grp else ""),
                  "| --- | ---: | ---: | ---: | ---: | ---: |" + (" ---: |" if grp else "")]
        lines += ["| " + " | ".join([r["name"], *_fmt(r.get(d), grp)]) + " |" for r in result.rows]
        lines.append("")
    i2i = result.image_to_image
    lines += ["### image→image (real photos only)", ""]
    if i2i.get("metrics"):
        lines.append(f"{i2i['qualifying_products']} of {i2i['real_products']} real products have ≥ 2 photos; "
                     f"gallery {i2i['gallery_photos']} photos: R@1 {i2i['metrics']['R@1']:.3f}, "
                     f"R@5 {i2i['metrics']['R@5']:.3f}, median rank {i2i['metrics']['median_rank']:.1f}")
        fb = i2i.get("frozen_backbone")
        if fb:
            delta, lo, hi = paired_bootstrap_delta(np.array(fb["ranks"]), np.array(i2i["metrics"]["ranks"]))
            lines[-1] += (f"; frozen backbone R@1 {fb['R@1']:.3f}, R@5 {fb['R@5']:.3f} "
                         f"(trained − frozen R@1 {delta:+.3f}, 95% CI {lo:+.3f}…{hi:+.3f})")
    else:
        lines.append(f"{i2i.get('qualifying_products', 0)} of {i2i.get('real_products', 0)} real products have ≥ 2 photos: "
                     "not measured on this dataset.")
    lines += ["", "### Paired comparisons (same queries)", "", *(summary_vs_raw(result) or ["- no rows to compare"]), ""]
    return "\n".join(lines)


def write_reports(
    result: EvalResult, markdown_path: Path | None, json_path: Path | None = None, section: str = ""
) -> list[Path]:
    """Write the JSON (beside the markdown unless given) and the report into the markdown's
    ``section`` (its own markers, so several runs can live in one document); returns the paths."""
    written = []
    if json_path is None and markdown_path is not None:
        json_path = markdown_path.with_name(markdown_path.stem + (f"-{section}" if section else "") + ".json")
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(result.to_json() + "\n", encoding="utf-8")
        written.append(json_path)
    if markdown_path is not None:
        markdown_path.parent.mkdir(parents=True, exist_ok=True)
        old = markdown_path.read_text(encoding="utf-8") if markdown_path.exists() else ""
        markdown_path.write_text(splice_results(old, results_markdown(result), section), encoding="utf-8")
        written.append(markdown_path)
    return written


def markers(section: str = "") -> tuple[str, str]:
    """The start and end markers of a generated section."""
    name = f" {section}" if section else ""
    return f"<!-- ampere eval: start{name} -->", f"<!-- ampere eval: end{name} -->"


def splice_results(document: str, table: str, section: str = "") -> str:
    """Put the generated section between its markers in ``document`` (kept prose stays), or append it."""
    start, end = markers(section)
    block = f"{start}\n{table.rstrip()}\n{end}"
    if start in document and end in document:
        head, _, rest = document.partition(start)
        _, _, tail = rest.partition(end)
        return head + block + tail
    return (document.rstrip() + "\n\n" if document.strip() else "# Results\n\n") + block + "\n"
