"""Calibrate when a tag is claimed (``streams.worker.claims``): precision against coverage.

Query sets (each window searched against a catalog by the tag agent's rule, ``encoders.scoring``):

- ``sim``: the simulation's held-out live moments, each as three windows: keyframes + transcript
  (revision 1's shape), keyframes only (a silent window) and transcript only (no keyframes);
- ``renderings``: one emoji design's rendering against the other design's catalog (image-only);
- ``open-set``: the same windows with their product's whole group removed from the catalog, so
  the right answer is "none of these": every claim is wrong;
- ``junk``: generated windows that show or say no catalog product: chit-chat, repeated tokens,
  repeated characters, price talk without a product, random strings; blank, noise, gradient and
  off-catalog frames (the other set's images); with and without such speech. Generated with one
  seed for validation and another for test;
- ``issue examples`` (test only, never used to choose): the windows reported on the issue tracker.

Every set is cut by a hash of the product group (junk by seed) into a **validation** half, on which
the rule's thresholds are chosen, and a **test** half, on which they are reported.

Run: ``python -m tooling.bench.calibration --sample DIR --renderings DIR`` (writes
``streams/worker/claims.json``, ``bench/results/calibration.{json,md}`` and the plot).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from encoders.attributes import attribute_values, said_matrix, terms
from encoders.dataset import Dataset, ProductRecord
from encoders.scoring import SCORING_ID, Branches, similarity, with_attributes
from engines.encode.base import EncodeItem, Encoder
from engines.summarize.schema import SummaryRequest
from streams.worker.claims import (
    MODALITIES,
    ClaimFeatures,
    ClaimRule,
    ModelBinding,
    Thresholds,
    decide,
)
from tooling.evaluate import _Images, encode_all, pick_keyframes
from tooling.sim.speech import BANTER, NAMES, PROMOS

TOP_K = 3
"""Products the tag agent returns (``AMPERE_TAG_TOP_K``): the margin is computed among them."""
OLD_MIN_SCORE = 0.35
TARGET_PRECISION = 0.97
"""Precision required on validation (stricter than the 0.95 goal, which is checked on test)."""


@dataclass
class Window:
    """One query window and what a claim of it should be."""

    set: str
    split: str  # "val" | "test"
    truth: str | None  # product id; None when no catalog product is right
    images: list[Image.Image]
    text: str | None
    note: str = ""


def half(key: str) -> str:
    """"val" or "test" by a salted hash of ``key`` (a product group)."""
    return "val" if int(hashlib.sha256(f"claims-v1:{key}".encode()).hexdigest(), 16) % 2 == 0 else "test"


# --- junk ------------------------------------------------------------------------------------------

NUMBER_WORDS = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "twenty",
                "thirty", "forty", "fifty", "hundred", "ninety", "fifteen"]
CURRENCY = ["dollars", "bucks", "euros", "pounds", "yuan"]


def junk_texts(rng: random.Random, n: int) -> list[tuple[str, str]]:
    """``n`` (kind, text) of speech with no product in it."""
    out = []
    kinds = ["chit-chat", "repeated token", "repeated character", "price talk", "random string"]
    for i in range(n):
        kind = kinds[i % len(kinds)]
        if kind == "chit-chat":
            lines = [rng.choice(BANTER).format(name=rng.choice(NAMES)) for _ in range(rng.randint(1, 6))]
            text = " ".join(lines)
        elif kind == "repeated token":
            token = rng.choice(["spam", "hello", "ok", "yes", "lol", "wow", "buy", "hi", "test", "the", "haha"])
            text = " ".join([token] * rng.randint(20, 800))
        elif kind == "repeated character":
            text = rng.choice("éaxz!?ü中ñ.-あ") * rng.randint(50, 5000)
        elif kind == "price talk":
            price = " ".join(rng.choice(NUMBER_WORDS) for _ in range(rng.randint(1, 4))) + " " + rng.choice(CURRENCY)
            text = rng.choice(PROMOS).format(price=price)
        else:
            text = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz   ") for _ in range(rng.randint(5, 400)))
        out.append((kind, text))
    return out


def junk_images(rng: random.Random, n: int, off_catalog: list[Image.Image]) -> list[tuple[str, Image.Image]]:
    """``n`` (kind, image) of frames showing no catalog product."""
    out = []
    kinds = ["blank", "noise", "gradient", "off-catalog"] if off_catalog else ["blank", "noise", "gradient"]
    nprng = np.random.default_rng(rng.randint(0, 2**31))
    for i in range(n):
        kind = kinds[i % len(kinds)]
        if kind == "blank":
            im = Image.new("RGB", (320, 240), tuple(rng.randint(0, 255) for _ in range(3)))
        elif kind == "noise":
            im = Image.fromarray(nprng.integers(0, 256, (240, 320, 3), dtype=np.uint8))
        elif kind == "gradient":
            a, b = nprng.integers(0, 256, 3), nprng.integers(0, 256, 3)
            t = np.linspace(0, 1, 320)[None, :, None]
            im = Image.fromarray(np.broadcast_to(a * (1 - t) + b * t, (240, 320, 3)).astype(np.uint8))
        else:
            im = rng.choice(off_catalog)
        out.append((kind, im))
    return out


def junk_windows(split: str, seed: int, n: int, off_catalog: list[Image.Image]) -> list[Window]:
    """Text-only, image-only and image + text junk windows."""
    rng = random.Random(seed)
    texts = junk_texts(rng, n)
    images = junk_images(rng, n, off_catalog)
    out = [Window("junk", split, None, [], t, f"text: {k}") for k, t in texts]
    out += [Window("junk", split, None, [im], None, f"image: {k}") for k, im in images]
    out += [Window("junk", split, None, [im], t, f"image: {ki} + text: {kt}")
            for (kt, t), (ki, im) in zip(texts, rng.sample(images, len(images)))]
    return out


def issue_windows(bike: Image.Image | None) -> list[Window]:
    """The junk windows reported with the issue (reported on, never chosen on)."""
    out = [Window("issue examples", "test", None, [], "spam " * 300, "300 x spam"),
           Window("issue examples", "test", None, [], "é" * 4000, "4,000 x é"),
           Window("issue examples", "test", None, [], "three hundred twenty nine dollars tonight", "price only")]
    if bike is not None:
        out.append(Window("issue examples", "test", None, [bike], None, "image-only bike frame (off-catalog)"))
    return out


# --- windows of the datasets -----------------------------------------------------------------------

def sim_windows(ds: Dataset, images: _Images, max_keyframes: int) -> list[Window]:
    """Each held-out live moment as a full, a silent and an image-less window."""
    groups = {p.product_id: p.group or p.product_id for p in ds.products}
    out = []
    for m in ds.split("test").moments:
        if m.domain != "live":
            continue
        split = half(groups[m.product_id])
        frames = [images(r) for r in pick_keyframes(m, max_keyframes)]
        text = m.asr_text.strip() or None
        out.append(Window("sim", split, m.product_id, frames, text, m.moment_id))
        if frames:
            out.append(Window("sim", split, m.product_id, frames, None, m.moment_id))
        if text:
            out.append(Window("sim", split, m.product_id, [], text, m.moment_id))
    return out


def renderings_windows(ds: Dataset, images: _Images) -> tuple[list[Window], list[ProductRecord]]:
    """The renderings set: each object's first design as an image-only window, and the catalog of the
    objects with their other design's image and their name."""
    windows = [Window("renderings", half(p.group or p.product_id), p.product_id, [images(p.images[0])], None, p.title)
               for p in ds.products if len(p.images) >= 2]
    catalog = [ProductRecord(**{**p.__dict__, "images": p.images[1:]}) for p in ds.products if len(p.images) >= 2]
    return windows, catalog


# --- scoring ---------------------------------------------------------------------------------------

@dataclass
class Scored:
    """Tag-time features of windows against one catalog, and whether the top-1 is right."""

    windows: list[Window]
    features: list[ClaimFeatures]
    correct: np.ndarray  # top-1 is the true product
    in_catalog: np.ndarray  # a right answer exists in this catalog
    agree: np.ndarray  # visual-only and text-only top-1 agree (False when a branch is missing)


def gallery(encoder: Encoder, products: list[ProductRecord], images: _Images) -> Branches:
    return _cached([EncodeItem("product", [images(r) for r in p.images], p.text) for p in products], encoder)


CACHE: Path | None = None
"""Folder of encodings kept between runs (``--cache``), keyed by a hash of what was encoded."""


def _cached(items: list[EncodeItem], encoder: Encoder) -> Branches:
    if CACHE is None:
        return encode_all(encoder, items, 32, "encode", None)
    h = hashlib.sha256(str(getattr(encoder, "model_version", "")).encode())
    for it in items:
        h.update(f"{it.domain}|{it.text}|".encode())
        for im in it.images:
            h.update(hashlib.sha256(im.tobytes()).digest())
    path = CACHE / f"{h.hexdigest()[:24]}.npz"
    if path.exists():
        z = np.load(path)
        return Branches(z["fused"], z["visual"], z["text"], z["visual_mask"], z["text_mask"])
    out = encode_all(encoder, items, 32, "encode", None)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez(path, fused=out.fused, visual=out.visual, text=out.text, visual_mask=out.visual_mask, text_mask=out.text_mask)
    return out


def encode_windows(encoder: Encoder, windows: list[Window]) -> Branches:
    return _cached([EncodeItem("live", w.images, w.text) for w in windows], encoder)


def score(encoder: Encoder, windows: list[Window], products: list[ProductRecord], prod: Branches,
          open_set: bool = False, q: Branches | None = None) -> Scored:
    """Search every window like the tag agent (``open_set``: without its product's group; ``q``: the
    windows already encoded)."""
    from engines.summarize.extractive import ExtractiveSummarizer

    q = q if q is not None else encode_windows(encoder, windows)
    sim = search_scores(windows, products, prod, q)
    v_only = similarity(Branches(q.fused, q.visual, q.text, q.visual_mask, np.zeros_like(q.text_mask)),
                        Branches(prod.fused, prod.visual, prod.text, prod.visual_mask, np.zeros_like(prod.text_mask)))
    t_only = similarity(Branches(q.fused, q.visual, q.text, np.zeros_like(q.visual_mask), q.text_mask),
                        Branches(prod.fused, prod.visual, prod.text, np.zeros_like(prod.visual_mask), prod.text_mask))
    pids = np.array([p.product_id for p in products])
    group_of = {p.product_id: p.group or p.product_id for p in products}
    pgroups = np.array([group_of[p] for p in pids])
    summarizer = ExtractiveSummarizer()
    summaries = summarizer.summarize([SummaryRequest(window_id=str(i), text=w.text or "") for i, w in enumerate(windows)])
    feats, correct, in_cat, agree = [], [], [], []
    for i, w in enumerate(windows):
        row, v, t = sim[i].copy(), v_only[i].copy(), t_only[i].copy()
        truth = w.truth
        if open_set and truth is not None:
            drop = pgroups == group_of[truth]
            row[drop] = v[drop] = t[drop] = -np.inf
            truth = None
        order = np.argsort(-row, kind="stable")[:TOP_K]
        feats.append(ClaimFeatures(tuple(float(row[j]) for j in order), bool(q.visual_mask[i]), bool(q.text_mask[i]),
                                   summaries[i].has_product if w.text else None))
        correct.append(truth is not None and pids[order[0]] == truth)
        in_cat.append(truth is not None)
        agree.append(bool(q.visual_mask[i] and q.text_mask[i]) and int(np.argmax(v)) == int(np.argmax(t)))
    return Scored(windows, feats, np.array(correct), np.array(in_cat), np.array(agree))


def search_scores(windows: list[Window], products: list[ProductRecord], prod: Branches, q: Branches) -> np.ndarray:
    """``[window, product]`` scores by the tag agent's rule: branch cosines plus the attribute bonus."""
    values = [attribute_values(p.attributes) for p in products]
    spoken = [set(terms(w.text)) if w.text else None for w in windows]
    said = np.asarray(said_matrix(spoken, values), dtype=np.float64).reshape(len(windows), len(products))
    return with_attributes(similarity(q, prod), said)


def join(parts: list[Scored]) -> Scored:
    return Scored([w for p in parts for w in p.windows], [f for p in parts for f in p.features],
                  np.concatenate([p.correct for p in parts]), np.concatenate([p.in_catalog for p in parts]),
                  np.concatenate([p.agree for p in parts]))


def select(s: Scored, keep: np.ndarray) -> Scored:
    idx = np.flatnonzero(keep)
    return Scored([s.windows[i] for i in idx], [s.features[i] for i in idx], s.correct[idx], s.in_catalog[idx], s.agree[idx])


# --- the rule ------------------------------------------------------------------------------------

def claims(s: Scored, rule: ClaimRule) -> np.ndarray:
    return np.array([decide(f, rule)[0] for f in s.features], dtype=bool)


def summary(s: Scored, claimed: np.ndarray) -> dict:
    """Claimed precision, coverage of in-catalog windows, and wrong claims by kind."""
    n_in = int(s.in_catalog.sum())
    good = int((claimed & s.correct).sum())
    return {"windows": len(s.windows), "in_catalog": n_in, "claimed": int(claimed.sum()), "claimed_correct": good,
            "precision": good / claimed.sum() if claimed.any() else float("nan"),
            "coverage": float((claimed & s.in_catalog).sum() / n_in) if n_in else float("nan"),
            "correct_coverage": good / n_in if n_in else float("nan"),
            "wrong_in_catalog": int((claimed & s.in_catalog & ~s.correct).sum()),
            "claimed_none_right": int((claimed & ~s.in_catalog).sum())}


def fit_modality(s: Scored, modality: str, target: float) -> Thresholds:
    """The thresholds that claim the most right tags of ``modality`` windows at validation precision ≥
    ``target`` with no window lacking a right answer (junk) claimed; never-claim when none does."""
    idx = [i for i, f in enumerate(s.features) if f.modality == modality]
    top1 = np.array([s.features[i].top1 for i in idx])
    margin = np.array([s.features[i].margin for i in idx])
    correct, junk = s.correct[idx], np.array([s.windows[i].set == "junk" for i in idx])
    best, best_t = -1, Thresholds(float("inf"), float("inf"))
    for t1 in np.unique(np.round(np.concatenate([top1, [-1.0]]), 3)):
        for m in np.round(np.arange(0.0, 0.301, 0.005), 3):
            c = (top1 >= t1) & (margin >= m)
            if not c.any() or (c & junk).any():
                continue
            good = int((c & correct).sum())
            if good / c.sum() >= target and good > best:
                best, best_t = good, Thresholds(float(t1), float(m))
    return best_t


def fit(s: Scored, target: float) -> ClaimRule:
    return ClaimRule({m: fit_modality(s, m, target) for m in MODALITIES})


# --- report --------------------------------------------------------------------------------------

def curve(s: Scored, modality: str | None, vary: str, fixed: Thresholds | None) -> list[tuple[float, float]]:
    """(coverage, precision) points sweeping ``vary`` ("top1" or "margin") for ``modality`` windows."""
    idx = [i for i, f in enumerate(s.features) if modality is None or f.modality == modality]
    top1 = np.array([s.features[i].top1 for i in idx])
    margin = np.array([s.features[i].margin for i in idx])
    correct, in_cat = s.correct[idx], s.in_catalog[idx]
    pts = []
    grid = np.unique(top1) if vary == "top1" else np.arange(0.0, 0.3, 0.0025)
    for x in grid:
        c = (top1 >= x) if vary == "top1" else (margin >= x) & (top1 >= (fixed.min_top1 if fixed else -1))
        if c.any() and in_cat.any():
            pts.append((float((c & in_cat).sum() / in_cat.sum()), float((c & correct).sum() / c.sum())))
    return pts


def plot(s: Scored, rule: ClaimRule, path: Path) -> None:
    """Precision against coverage on the test split, per modality: score-only vs the calibrated rule."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 4.2), sharey=True)
    for ax, m in zip(axes, MODALITIES):
        t = rule.thresholds[m]
        for vary, label, style in (("top1", "top-1 score only", "--"), ("margin", "margin (top-1 floor as chosen)", "-")):
            pts = curve(s, m, vary, t)
            if pts:
                ax.plot(*zip(*pts), style, label=label)
        sub = select(s, np.array([f.modality == m for f in s.features]))
        for r, mk, lab in ((rule, "o", "chosen rule"), (ClaimRule.fixed(OLD_MIN_SCORE), "x", f"old: score ≥ {OLD_MIN_SCORE}")):
            res = summary(sub, claims(sub, r))
            if res["claimed"]:
                ax.plot(res["coverage"], res["precision"], mk, markersize=10, label=lab)
        ax.axhline(0.95, color="grey", lw=0.6)
        ax.set_title(f"{m} windows (test)")
        ax.set_xlabel("coverage (share of in-catalog windows claimed)")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("claimed precision (junk, open-set: wrong)")
    axes[0].legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def by_set(s: Scored, rule: ClaimRule) -> dict[str, dict]:
    c = claims(s, rule)
    out = {"all": summary(s, c)}
    for name in dict.fromkeys(w.set for w in s.windows):
        keep = np.array([w.set == name for w in s.windows])
        out[name] = summary(select(s, keep), c[keep])
    for m in MODALITIES:
        keep = np.array([f.modality == m and w.set in ("sim", "renderings") for f, w in zip(s.features, s.windows)])
        if keep.any():
            out[f"in-catalog, {m}"] = summary(select(s, keep), c[keep])
    return out


def markdown(report: dict) -> str:
    rule = report["rule"]
    lines = ["## Calibrated claims", "",
             (f"Rule (`streams/worker/claims.json`, chosen on the validation half at precision ≥ {report['target']}"
             " with no junk window claimed; a modality never claims when no threshold reaches it):"), "",
             "| window | top-1 ≥ | margin over top-2 ≥ |", "| --- | ---: | ---: |"]
    lines += [f"| {m} | {t['min_top1']:.3f} | {t['min_margin']:.3f} |" for m, t in rule["thresholds"].items()]
    for split in ("val", "test"):
        lines += ["", f"### {split} split", "",
                  "| set | rule | windows | in catalog | claimed | precision | coverage | wrong claims (in catalog) | claims with no right answer |",
                  "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for name, rows in report[split].items():
            for rname, r in rows.items():
                prec = "–" if r["claimed"] == 0 else f"{r['precision']:.3f}"
                cov = "–" if not r["in_catalog"] else f"{r['coverage']:.3f}"
                lines.append(f"| {name} | {rname} | {r['windows']} | {r['in_catalog']} | {r['claimed']} | {prec} | {cov} "
                             f"| {r['wrong_in_catalog']} | {r['claimed_none_right']} |")
    lines += ["", "Issue examples (test only):", ""]
    lines += [f"- {e['note']}: top {e['top1']:.3f} (margin {e['margin']:.3f}) → "
              + ("**claimed**" if e["claimed"] else f"not claimed ({e['reason']})") for e in report["issue_examples"]]
    lines += ["", (f"Branch agreement (visual-only and text-only top-1 agree) on validation visual+text windows: "
              f"{report['agreement']}"), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sample", type=Path, required=True, help="Simulated dataset (ampere simulate).")
    parser.add_argument("--renderings", type=Path, help="Renderings dataset (python -m tooling.sim.renderings).")
    parser.add_argument("--encoder", default="onnx")
    parser.add_argument("--junk", type=int, default=60, help="Junk windows of each kind group per split.")
    parser.add_argument("--target", type=float, default=TARGET_PRECISION)
    parser.add_argument("--rule-out", type=Path, default=Path("streams/worker/claims.json"))
    parser.add_argument("--out", type=Path, default=Path("bench/results/calibration"))
    parser.add_argument("--plot", type=Path, default=Path("docs/claims.png"))
    parser.add_argument("--cache", type=Path, help="Keep encodings here between runs.")
    args = parser.parse_args(argv)
    global CACHE
    CACHE = args.cache

    from engines.encode import load_encoder

    encoder = load_encoder(args.encoder, None)
    sample = Dataset.load(args.sample)
    s_img = _Images(sample)
    s_prod = gallery(encoder, sample.products, s_img)
    sim = sim_windows(sample, s_img, 4)
    rend_ds = Dataset.load(args.renderings) if args.renderings else None
    r_img = _Images(rend_ds) if rend_ds else None
    rend, rend_catalog = renderings_windows(rend_ds, r_img) if rend_ds else ([], [])
    rend_pics = [w.images[0] for w in rend[:200]]
    sim_pics = [s_img(p.images[0]) for p in sample.products if p.images][:100]
    sim_q = encode_windows(encoder, sim)
    parts = [score(encoder, sim, sample.products, s_prod, q=sim_q),
             score(encoder, sim, sample.products, s_prod, open_set=True, q=sim_q)]
    parts[1].windows = [Window("open-set (sim)", w.split, w.truth, w.images, w.text, w.note) for w in parts[1].windows]
    parts.append(score(encoder, junk_windows("val", 1, args.junk, rend_pics[::2]), sample.products, s_prod))
    parts.append(score(encoder, junk_windows("test", 2, args.junk, rend_pics[1::2]), sample.products, s_prod))
    bike = next((w.images[0] for w in rend if w.note == "bicycle"), None)
    parts.append(score(encoder, issue_windows(bike), sample.products, s_prod))
    if rend_ds:
        r_prod = gallery(encoder, rend_catalog, r_img)
        rend_q = encode_windows(encoder, rend)
        rs = score(encoder, rend, rend_catalog, r_prod, q=rend_q)
        ro = score(encoder, rend, rend_catalog, r_prod, open_set=True, q=rend_q)
        ro.windows = [Window("open-set (renderings)", w.split, w.truth, w.images, w.text, w.note) for w in ro.windows]
        rj = [score(encoder, junk_windows(sp, seed, args.junk, sim_pics[i::2]), rend_catalog, r_prod)
              for i, (sp, seed) in enumerate((("val", 3), ("test", 4)))]
        parts += [rs, ro, *rj]
    everything = join(parts)
    val = select(everything, np.array([w.split == "val" and w.set != "issue examples" for w in everything.windows]))
    test = select(everything, np.array([w.split == "test" for w in everything.windows]))
    rule = fit(val, args.target)
    rule = ClaimRule(rule.thresholds, source={"chosen_on": "validation half (hash of product group)",
                                              "target_precision": args.target, "sets": sorted({w.set for w in val.windows}),
                                              "command": "python -m tooling.bench.calibration",
                                              "model_version": str(getattr(encoder, "model_version", ""))},
                     model=ModelBinding.of(str(getattr(encoder, "model_version", "")), args.encoder, SCORING_ID))
    args.rule_out.write_text(rule.to_json(), encoding="utf-8")
    old = ClaimRule.fixed(OLD_MIN_SCORE)
    vt = val.features
    both = [i for i, f in enumerate(vt) if f.modality == "visual+text"]
    agreement = {"windows": len(both),
                 "precision of top-1 when branches agree": float(val.correct[both][val.agree[both]].mean()) if val.agree[both].any() else None,
                 "precision when they disagree": float(val.correct[both][~val.agree[both]].mean()) if (~val.agree[both]).any() else None,
                 "share agreeing": float(val.agree[both].mean()) if both else None}
    issue = select(everything, np.array([w.set == "issue examples" for w in everything.windows]))
    report = {
        "target": args.target, "rule": json.loads(rule.to_json()), "agreement": agreement,
        "val": {"calibrated": by_set(val, rule), "old (score ≥ 0.35)": by_set(val, old)},
        "test": {"calibrated": by_set(test, rule), "old (score ≥ 0.35)": by_set(test, old)},
        "issue_examples": [{"note": w.note, "top1": f.top1, "margin": f.margin, "claimed": decide(f, rule)[0],
                            "reason": decide(f, rule)[1]} for w, f in zip(issue.windows, issue.features)],
    }
    # rows: set → rule → numbers
    for split in ("val", "test"):
        rows: dict[str, dict] = {}
        for rname, sets in report[split].items():
            for name, r in sets.items():
                rows.setdefault(name, {})[rname] = r
        report[split] = rows
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=2, ensure_ascii=False, allow_nan=True) + "\n", encoding="utf-8")
    args.out.with_suffix(".md").write_text(markdown(report), encoding="utf-8")
    plot(test, rule, args.plot)
    print(markdown(report))


if __name__ == "__main__":
    main()
