"""Training of the AMPere heads on a dataset folder, on CPU, with the backbones frozen.

Backbone features are computed once (cached, see ``encoders.features``); the heads are trained with
symmetric InfoNCE (temperature and label smoothing from the config) between every pair of domains
(product / live / video) and modalities (fused, visual, text), as in the AMPere paper.
Texts: products use ``ProductRecord.text`` (brand, title, key attributes); moments use the summary
sentence from ``DIR/summaries/<engine>.jsonl`` when that file has the moment (an empty summary masks
the text branch, as in the pipeline), else the raw ASR text.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from encoders.config import AmpereConfig
from encoders.dataset import Dataset, MomentRecord
from encoders.features import image_features, text_features
from encoders.heads import AmpereHeads
from encoders.preprocess import pick_frames

Report = Callable[[str, int, int], None]


@dataclass(frozen=True)
class TrainConfig:
    """Knobs of one training run."""

    epochs: int = 40
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.01
    seed: int = 0
    summaries: str = "extractive"
    text_dropout: float = 0.15
    """Probability of masking a moment's text during training (teaches the missing-text case)."""
    mix_asr: bool = True
    """Train on the summary and the raw ASR of a moment alike (random choice per step)."""
    freeze_visual: bool = False
    """Keep the visual projection as initialized (with pca-residual: the backbone's principal
    components), so the visual space stays the backbone's on images unlike the training photos."""
    distill: float = 0.0
    """Weight of the similarity-preserving loss: squared difference between the cosine matrices of
    the batch's branch vectors and of its frozen backbone features (keeps the backbone's neighbours)."""


@dataclass
class Entry:
    """One product or moment as row indices into the cached feature matrices."""

    key: str
    domain: str
    product_id: str
    split: str
    images: list[int]
    text: int  # -1: no text
    alt_texts: list[int] = field(default_factory=list)
    """Other text variants of the same moment (e.g. raw ASR beside the summary), training only."""


@dataclass
class FeatureSet:
    """Cached backbone features of a dataset and its entries."""

    image: np.ndarray
    text: np.ndarray
    products: list[Entry]
    moments: list[Entry]
    text_source: dict[str, int] = field(default_factory=dict)


def load_summaries(root: Path, engine: str) -> dict[str, str]:
    """``moment_id -> sentence`` from ``summaries/<engine>.jsonl`` ('' where the summary is empty)."""
    path = root / "summaries" / f"{engine}.jsonl"
    out: dict[str, str] = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                rec = json.loads(line)
                s = rec.get("summary") or {}
                out[rec["moment_id"]] = (s.get("sentence") or "").strip() if s.get("has_product", True) else ""
    return out


def moment_text(m: MomentRecord, summaries: dict[str, str], computed: dict[str, str] | None = None) -> tuple[str, str]:
    """(text, source) of a moment: its cached summary, else a computed one, else the raw ASR."""
    if m.moment_id in summaries:
        return summaries[m.moment_id], "summary"
    if computed and m.moment_id in computed:
        return computed[m.moment_id], "summary-computed"
    return m.asr_text.strip(), "asr"


def build_features(ds: Dataset, cfg: AmpereConfig, summaries: dict[str, str], models_home: Path | None = None,
                   report: Report | None = None, computed: dict[str, str] | None = None) -> FeatureSet:
    """Backbone features of every image and text of the dataset (cached on disk)."""
    paths: list[Path] = []
    path_index: dict[str, int] = {}
    texts: list[str] = []
    text_index: dict[str, int] = {}
    sources: dict[str, int] = {}

    def img(rel: str) -> int:
        if rel not in path_index:
            path_index[rel] = len(paths)
            paths.append(ds.path(rel))
        return path_index[rel]

    def txt(t: str) -> int:
        if not t:
            return -1
        if t not in text_index:
            text_index[t] = len(texts)
            texts.append(t)
        return text_index[t]

    products = [Entry(p.product_id, "product", p.product_id, p.split, [img(r) for r in p.images[: cfg.max_frames]],
                      txt(p.text)) for p in ds.products]
    moments = []
    for m in ds.moments:
        text, source = moment_text(m, summaries, computed)
        sources[source] = sources.get(source, 0) + 1
        asr = m.asr_text.strip()
        alts = [txt(asr)] if source != "asr" and asr else []
        moments.append(Entry(m.moment_id, m.domain, m.product_id, m.split, [img(k.path) for k in m.keyframes],
                             txt(text), alts))
    image = image_features(paths, cfg.visual, models_home,
                           progress=(lambda d, t: report("image features", d, t)) if report else None)
    text = text_features(texts, cfg.text, models_home,
                         progress=(lambda d, t: report("text features", d, t)) if report else None)
    return FeatureSet(image, text, products, moments, sources)


def batch_tensors(entries: list[Entry], fs: FeatureSet, cfg: AmpereConfig, rng: random.Random | None = None,
                  text_dropout: float = 0.0, mix_texts: bool = False,
                  use_alt: bool = False) -> tuple[torch.Tensor, ...]:
    """Feature tensors of a batch.

    With ``rng`` (training): random keyframe subsets, text dropout and, with ``mix_texts``, a random
    choice among a moment's text variants. ``use_alt`` (evaluation) takes the first alternative text
    (the raw ASR) where there is one.
    """
    b, f = len(entries), cfg.max_frames
    frames = torch.zeros(b, f, fs.image.shape[1])
    frame_mask = torch.zeros(b, f)
    text = torch.zeros(b, fs.text.shape[1])
    text_mask = torch.zeros(b)
    onehot = torch.zeros(b, len(cfg.domains))
    for i, e in enumerate(entries):
        chosen = list(e.images)
        if rng is not None and len(chosen) > 1:
            k = rng.randint(1, min(len(chosen), f))
            chosen = sorted(rng.sample(chosen, k))
        chosen = pick_frames(chosen, f)
        if chosen:
            frames[i, : len(chosen)] = torch.from_numpy(fs.image[chosen])
            frame_mask[i, : len(chosen)] = 1.0
        drop = rng is not None and e.domain != "product" and chosen and rng.random() < text_dropout
        text_row = e.text
        if use_alt and e.alt_texts:
            text_row = e.alt_texts[0]
        elif rng is not None and mix_texts and e.alt_texts:
            text_row = rng.choice([e.text, *e.alt_texts])
        if text_row >= 0 and not drop:
            text[i] = torch.from_numpy(fs.text[text_row])
            text_mask[i] = 1.0
        onehot[i, cfg.domains.index(e.domain)] = 1.0
    return frames, frame_mask, text, text_mask, onehot


def run_heads(heads: AmpereHeads, tensors: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    """(fused, visual, text) of a batch of features, exactly as the exported graphs compute them."""
    frames, frame_mask, text, text_mask, onehot = tensors
    return heads.fuse(heads.image_token(frames), frame_mask, heads.text_token(text), text_mask, onehot)


def info_nce(a: torch.Tensor, b: torch.Tensor, temperature: float, smoothing: float,
             valid: torch.Tensor | None = None) -> torch.Tensor:
    """Symmetric InfoNCE between aligned rows of ``a`` and ``b`` (optionally only ``valid`` rows)."""
    if valid is not None:
        a, b = a[valid], b[valid]
    if len(a) < 2:
        return a.sum() * 0.0
    logits = a @ b.t() / temperature
    target = torch.arange(len(a))
    return (F.cross_entropy(logits, target, label_smoothing=smoothing)
            + F.cross_entropy(logits.t(), target, label_smoothing=smoothing)) / 2


def pair_losses(out: dict[str, tuple[torch.Tensor, ...]], masks: dict[str, tuple[torch.Tensor, torch.Tensor]],
                cfg: AmpereConfig) -> dict[str, torch.Tensor]:
    """Every cross-domain / cross-modality pair of the paper's objective."""
    t, s = cfg.temperature, cfg.label_smoothing
    losses = {}
    domains = list(out)
    for i, d1 in enumerate(domains):
        for d2 in domains[i + 1 :]:
            (f1, v1, t1), (f2, v2, t2) = out[d1], out[d2]
            (vm1, tm1), (vm2, tm2) = masks[d1], masks[d2]
            losses[f"{d1}-{d2}/fused"] = info_nce(f1, f2, t, s)
            losses[f"{d1}-{d2}/visual"] = info_nce(v1, v2, t, s, vm1 & vm2)
            losses[f"{d1}-{d2}/text"] = info_nce(t1, t2, t, s, tm1 & tm2)
            if d1 == "product" and f1.shape[-1] == v2.shape[-1]:  # not when visual keeps the backbone's width
                losses[f"{d1}-{d2}/fused-visual"] = info_nce(f1, v2, t, s, vm2)
    return losses


def frozen_targets(tensors: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    """(visual, text) unit vectors of a batch's frozen features: mean of the unit frame features, the
    unit text feature (zero rows where masked), as the frozen-backbone baseline compares them."""
    frames, frame_mask, text, text_mask, _ = tensors
    pooled = (F.normalize(frames, dim=-1) * frame_mask.unsqueeze(-1)).sum(dim=1)
    return F.normalize(pooled, dim=-1), F.normalize(text, dim=-1) * text_mask.unsqueeze(-1)


def similarity_preserving(student: torch.Tensor, teacher: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of the off-diagonal cosine matrices of ``student`` and ``teacher`` rows."""
    s, t = student[valid], teacher[valid]
    if len(s) < 2:
        return student.sum() * 0.0
    off = ~torch.eye(len(s), dtype=torch.bool)
    return ((s @ s.t() - t @ t.t())[off] ** 2).mean()


def pca_init(heads: AmpereHeads, fs: FeatureSet, split: str = "train") -> None:
    """Initialize pca-residual projections from the ``split``'s backbone features (no-op for mlp)."""
    from encoders.heads import PcaResidualProjection

    entries = [e for e in fs.products + fs.moments if e.split == split]
    image_rows = sorted({i for e in entries for i in e.images})
    text_rows = sorted({t for e in entries for t in [e.text, *e.alt_texts] if t >= 0})
    for proj, feats, rows in ((heads.visual_proj, fs.image, image_rows), (heads.text_proj, fs.text, text_rows)):
        if isinstance(proj, PcaResidualProjection) and rows:
            proj.init_pca(torch.from_numpy(np.asarray(feats[rows])))


def _by_product(entries: list[Entry]) -> dict[str, dict[str, list[Entry]]]:
    out: dict[str, dict[str, list[Entry]]] = {}
    for e in entries:
        out.setdefault(e.product_id, {}).setdefault(e.domain, []).append(e)
    return out


def train_heads(fs: FeatureSet, cfg: AmpereConfig, tc: TrainConfig, report: Report | None = None,
                heads: AmpereHeads | None = None) -> tuple[AmpereHeads, list[float]]:
    """Train the heads on the train split; returns them and the mean loss of each epoch."""
    torch.manual_seed(tc.seed)
    rng = random.Random(tc.seed)
    heads = heads or AmpereHeads(cfg)
    heads.train()
    products = {p.product_id: p for p in fs.products if p.split == "train"}
    moments = _by_product([m for m in fs.moments if m.split == "train"])
    ids = sorted(pid for pid in products if pid in moments)
    if len(ids) < 2:
        raise ValueError("the train split needs at least 2 products with moments")
    bs = max(2, min(tc.batch_size, len(ids)))
    steps_per_epoch = max(1, len(ids) // bs)
    if tc.freeze_visual:
        heads.visual_proj.requires_grad_(False)
    opt = torch.optim.AdamW([p for p in heads.parameters() if p.requires_grad], lr=tc.lr, weight_decay=tc.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=tc.lr, total_steps=tc.epochs * steps_per_epoch,
                                                pct_start=0.1)
    history = []
    for epoch in range(tc.epochs):
        rng.shuffle(ids)
        total = 0.0
        for step in range(steps_per_epoch):
            batch_ids = ids[step * bs : (step + 1) * bs]
            picks: dict[str, list[Entry]] = {"product": [products[p] for p in batch_ids], "live": [], "video": []}
            for pid in batch_ids:
                by_domain = moments[pid]
                every = [m for ms in by_domain.values() for m in ms]
                for d in ("live", "video"):
                    picks[d].append(rng.choice(by_domain.get(d) or every))
            out, masks = {}, {}
            distill = []
            for d, entries in picks.items():
                tensors = batch_tensors(entries, fs, cfg, rng, tc.text_dropout, tc.mix_asr)
                out[d] = run_heads(heads, tensors)
                masks[d] = (tensors[1].sum(1) > 0, tensors[3] > 0)
                if tc.distill > 0:
                    tv, tt = frozen_targets(tensors)
                    distill += [similarity_preserving(out[d][1], tv, masks[d][0]),
                                similarity_preserving(out[d][2], tt, masks[d][1])]
            losses = pair_losses(out, masks, cfg)
            if distill:
                losses["distill"] = tc.distill * len(losses) * torch.stack(distill).mean()
            loss = torch.stack(list(losses.values())).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item()
        history.append(total / steps_per_epoch)
        if report:
            report(f"epoch loss {history[-1]:.3f}", epoch + 1, tc.epochs)
    heads.eval()
    return heads, history


@torch.inference_mode()
def evaluate(heads: AmpereHeads, fs: FeatureSet, cfg: AmpereConfig, split: str, raw_asr: bool = False) -> dict:
    """Moment -> product retrieval over the whole catalog: R@1, R@5, MRR per domain and branch.

    ``raw_asr`` queries with each moment's raw ASR instead of its summary (the paper's ablation).
    """
    heads.eval()
    gallery = fs.products
    g_out = run_heads(heads, batch_tensors(gallery, fs, cfg))
    gallery_ids = np.asarray([p.product_id for p in gallery])
    result: dict = {"split": split, "gallery": len(gallery), "moment_text": "raw ASR" if raw_asr else "summary"}
    for domain in ("live", "video", "all"):
        queries = [m for m in fs.moments if m.split == split and (domain == "all" or m.domain == domain)]
        queries = [q for q in queries if q.product_id in set(gallery_ids)]
        if not queries:
            continue
        q_out = run_heads(heads, batch_tensors(queries, fs, cfg, use_alt=raw_asr))
        target = np.asarray([q.product_id for q in queries])
        row = {"queries": len(queries)}
        for name, qi, gi in (("fused", 0, 0), ("visual", 1, 1), ("fused_vs_product_text", 0, 2)):
            sims = (q_out[qi] @ g_out[gi].t()).numpy()
            order = np.argsort(-sims, axis=1)
            hit = gallery_ids[order] == target[:, None]
            rank = hit.argmax(axis=1)
            row[name] = {"R@1": round(float(hit[:, :1].any(1).mean()), 4),
                         "R@5": round(float(hit[:, :5].any(1).mean()), 4),
                         "MRR": round(float((1.0 / (rank + 1)).mean()), 4)}
        result[domain] = row
    return result


Summarize = Callable[[list[MomentRecord]], dict[str, str]]


def _dataset_recipe(root: Path) -> dict:
    """What made the dataset (generator, seed, catalog package), from its ``dataset.json`` if any."""
    path = root / "dataset.json"
    if not path.is_file():
        return {}
    meta = json.loads(path.read_text(encoding="utf-8"))
    catalog = meta.get("catalog") or {}
    return {"generator": meta.get("generator"), "seed": (meta.get("config") or {}).get("seed"),
            "catalog": f"{catalog.get('registry', '')}:{catalog.get('package', '')}@{catalog.get('version', '')}"}


def train(dataset_dir: str | Path, out_dir: str | Path, tc: TrainConfig, cfg: AmpereConfig | None = None,
          models_home: Path | None = None, report: Report | None = None, summarize: Summarize | None = None) -> dict:
    """Full run: features -> heads -> metrics; writes the model folder and ``metrics.json``.

    ``summarize`` (moments -> ``moment_id -> sentence``) fills in moments that the dataset's summary
    file lacks, so training sees the same kind of text as the pipeline.
    """
    from encoders.model import save_model_dir

    cfg = cfg or AmpereConfig()
    started = time.time()
    ds = Dataset.load(dataset_dir)
    summaries = load_summaries(ds.root, tc.summaries)
    missing = [m for m in ds.moments if m.moment_id not in summaries]
    computed = summarize(missing) if summarize and missing else None
    fs = build_features(ds, cfg, summaries, models_home, report, computed)
    torch.manual_seed(tc.seed)
    initial = AmpereHeads(cfg)
    pca_init(initial, fs)
    before = evaluate(initial, fs, cfg, "test")
    heads, history = train_heads(fs, cfg, tc, report, heads=initial)
    metrics = {
        "dataset": {"dir_name": ds.root.name, "recipe": _dataset_recipe(ds.root),
                    "products": len(ds.products), "moments": len(ds.moments),
                    "train_products": sum(p.split == "train" for p in ds.products),
                    "train_moments": sum(m.split == "train" for m in ds.moments),
                    "moment_text": fs.text_source, "summaries": tc.summaries},
        "train_config": tc.__dict__,
        "model": {"projection": cfg.projection, "dim": cfg.dim, "hidden_dim": cfg.hidden_dim,
                  "visual_branch": cfg.visual_branch, "visual_dim": cfg.visual_dim,
                  "torch": torch.__version__, "threads": torch.get_num_threads()},
        "loss_per_epoch": [round(x, 4) for x in history],
        "test_untrained_heads": before,
        "test": evaluate(heads, fs, cfg, "test"),
        "test_raw_asr": evaluate(heads, fs, cfg, "test", raw_asr=True),
        "train": evaluate(heads, fs, cfg, "train"),
        "seconds": round(time.time() - started, 1),
    }
    out_dir = save_model_dir(cfg, heads, out_dir)
    from encoders.config import HEADS_NAME
    from encoders.registry import sha256_file

    metrics["heads_sha256"] = sha256_file(out_dir / HEADS_NAME)
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    return metrics


def _model_lines(metrics: dict) -> list[str]:
    """What the heads are and how to get the same bytes again."""
    m, tc = metrics.get("model") or {}, metrics["train_config"]
    if not m:
        return []
    lines = [f"- projections `{m['projection']}`, {m['dim']}-d branches and fused vector"]
    if m["projection"] == "pca-residual":
        lines[-1] += (": unit backbone features, centred, mapped by their top principal components on the train"
                      " split (float64 SVD, signs fixed) plus a zero-initialized MLP residual")
    if tc.get("freeze_visual"):
        lines.append("- visual projection frozen at that initialization (the visual space stays the backbone's)")
    if m.get("visual_branch") == "backbone":
        lines.append("- visual branch vector: the backbone's unit features at full width, pooled over frames by the"
                     " learned frame weights (image-to-image cosine is the frozen backbone's); the projected"
                     " token feeds the fused vector")
    if tc.get("distill"):
        lines.append(f"- similarity-preserving loss toward the frozen features, weight {tc['distill']}")
    lines += ["", "## Reproduce bit for bit", "",
              ("Run the command below on the folder made by `ampere catalog fetch && ampere simulate` (seed 7),"
               f" on CPU with torch {m['torch']} and {m['threads']} threads (`ampere train --threads`, default 2):"
               " every step is seeded and the PCA is a float64 SVD, so `heads.safetensors` comes out with the"
               " same bytes (compare `sha256sum`; `ampere model info` prints the version, a hash of config and"
               " weights). Another torch version or thread count may change the last bits."), ""]
    if metrics.get("heads_sha256"):
        lines[-1:-1] = ["", f"`heads.safetensors` sha256: `{metrics['heads_sha256']}`"]
    return lines


def training_note(metrics: dict, model_version: str) -> str:
    """Markdown note of a training run: command, data, metrics (written beside the weights)."""
    ds, tc = metrics["dataset"], metrics["train_config"]
    lines = [
        f"# {model_version}: how these heads were trained",
        "",
        "Backbones are frozen and pinned in `config.json` (package, version, file, sha256); only the heads",
        "in `heads.safetensors` are trained, on CPU, with symmetric InfoNCE between every pair of domains",
        "(product / live / video) and modalities (fused / visual / text), temperature and label smoothing",
        "from the config.",
        "",
        *_model_lines(metrics),
        "## Command",
        "",
        "```",
        metrics.get("command", "ampere train"),
        "```",
        "",
        "## Data",
        "",
        (f"- dataset folder `{ds['dir_name']}`: {ds['products']} products, {ds['moments']} moments; train split "
        f"{ds['train_products']} products / {ds['train_moments']} moments"),
        (f"- recipe (from the folder's dataset.json): {json.dumps(ds.get('recipe', {}))}; the folder is made by "
        "`ampere simulate` (see `ampere simulate --help`)"),
        (f"- moment text sources: {ds['moment_text']} (summary: from `summaries/{ds['summaries']}.jsonl`; "
        "summary-computed: the same engine run by `ampere train` on moments that file lacks; asr: raw ASR)"),
        f"- train config: {json.dumps(tc)}",
        f"- wall time {metrics['seconds']} s",
        "",
        "## Test metrics (moment -> product over the whole catalog)",
        "",
        "Queries use the moment's summary sentence (masked where the summary is empty) unless marked raw ASR;",
        "`fused_vs_product_text` ranks products by their text-branch vector against the moment's fused one.",
        "",
        "| queries | heads | branch | R@1 | R@5 | MRR |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for domain in ("live", "video", "all"):
        for label, key in (("untrained", "test_untrained_heads"), ("trained", "test"),
                           ("trained, raw ASR text", "test_raw_asr")):
            row = metrics.get(key, {}).get(domain)
            if not row:
                continue
            for branch in ("fused", "visual", "fused_vs_product_text"):
                if branch in row and (label == "trained" or branch == "fused"):
                    m = row[branch]
                    lines.append(f"| {domain} ({row['queries']}) | {label} | {branch} | {m['R@1']} | {m['R@5']} | {m['MRR']} |")
    lines += ["", f"Loss per epoch: first {metrics['loss_per_epoch'][0]}, last {metrics['loss_per_epoch'][-1]}.",
              "Train-split metrics and the full numbers are in `metrics.json`.", ""]
    return "\n".join(lines)
