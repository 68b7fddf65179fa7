"""Claims with and without a stream lineup: claimed precision (with its exact 95 % lower bound) and coverage.

Windows: the calibration bench's simulation windows (held-out products; each moment as a full, a silent
and an image-less window), **test half only**: the shipped rule (``streams/worker/claims.json``) was
chosen on the other half and nothing is fitted here. Each window gets a seeded lineup of K products:

- ``random``: its product plus K-1 others drawn from the whole catalog;
- ``look-alikes``: its product, then every other product of its group (its variants and
  near-duplicates, which a seller's list often holds too), then random others up to K;
- off-lineup: a share of the windows (``--off-share``) gets K products *without* its own (a product
  shown off the lineup, or a wrong lineup): a lineup claim there is always wrong;
- open set: the window's product group is removed from the catalog, the lineup is K others: every
  claim is wrong.

Each decision is the tag stage's own (``streams.worker.tag_scope.choose_scope`` over the top
``TOP_K`` catalog hits and the lineup's hits). Run:
``python -m tooling.bench.lineups --sample $AMPERE_HOME/data/sample`` → ``bench/results/lineups.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import math
import random
from dataclasses import replace
from pathlib import Path

import numpy as np

from encoders.dataset import Dataset, ProductRecord
from encoders.scoring import SCORING_ID
from engines.store.weaviate_store import Hit
from streams.worker.claims import MODALITIES, RULE_FILE, ClaimRule, shipped_rule
from streams.worker.tag_scope import choose_scope
from tooling.bench import calibration
from tooling.bench.calibration import TOP_K, Window
from tooling.evaluate import _Images

SIZES = (5, 10, 30)
OFF_SHARE = 0.2


def binomial_lower(k: int, n: int, confidence: float = 0.95) -> float:
    """Exact (Clopper-Pearson) one-sided lower bound on a rate with ``k`` successes in ``n`` trials."""
    if n == 0 or k == 0:
        return 0.0
    alpha = 1.0 - confidence

    def tail(p: float) -> float:  # P(X >= k | n, p)
        return sum(math.exp(math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1)
                            + i * math.log(p) + (n - i) * math.log1p(-p)) for i in range(k, n + 1))

    lo, hi = 0.0, k / n
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if tail(mid) < alpha else (lo, mid)
    return lo


def lineup_for(truth: str, products: list[ProductRecord], size: int, kind: str, off: bool, rng: random.Random,
               excluded: set[str]) -> list[str]:
    """A lineup of ``size`` products for a window whose product is ``truth`` (see the module doc)."""
    group = {p.product_id: p.group or p.product_id for p in products}
    pool = [p.product_id for p in products if p.product_id != truth and p.product_id not in excluded]
    rng.shuffle(pool)
    first = [] if off else [truth]
    if kind == "look-alikes":
        siblings = [p for p in pool if group[p] == group[truth]]
        first += siblings
        pool = [p for p in pool if p not in siblings]
    return (first + pool)[:size]


def hits(row: np.ndarray, pids: list[str], only: list[int] | None = None, limit: int | None = None) -> list[Hit]:
    idx = np.asarray(only if only is not None else range(len(pids)))
    idx = idx[np.isfinite(row[idx])]
    order = idx[np.argsort(-row[idx], kind="stable")][: limit or len(idx)]
    return [Hit(pids[j], float(row[j]), {"product_id": pids[j]}) for j in order]


def decide_all(windows: list[Window], sim: np.ndarray, products: list[ProductRecord], has_product: list[bool | None],
               size: int | None, kind: str, off_share: float, open_set: bool, seed: int, best_overall: bool = True) -> dict:
    """Claims of every window for one row; counts for its precision and coverage."""
    rule = shipped_rule()
    pids = [p.product_id for p in products]
    col = {p: j for j, p in enumerate(pids)}
    group = {p.product_id: p.group or p.product_id for p in products}
    rng = random.Random(seed)
    n = {"windows": 0, "in_lineup": 0, "claimed": 0, "correct": 0, "claimed_in_lineup": 0, "off_lineup": 0,
         "claimed_off_lineup_wrong": 0, "lineup_scope": 0}
    for i, w in enumerate(windows):
        row = sim[i].copy()
        excluded = {p for p in pids if open_set and group[p] == group[w.truth]}
        for p in excluded:
            row[col[p]] = -np.inf
        off = open_set or (size is not None and rng.random() < off_share)
        lineup = lineup_for(w.truth, products, size, kind, off, rng, excluded) if size else None
        branches = [b for b, has in (("visual", bool(w.images)), ("text", bool(w.text))) if has]
        summary = {"has_product": has_product[i]} if has_product[i] is not None else None
        catalog = hits(row, pids, limit=TOP_K)
        in_lineup = hits(row, pids, only=[col[p] for p in lineup]) if lineup else None
        scoped = choose_scope(catalog, in_lineup, lineup, branches, summary, rule, limit=TOP_K, best_overall=best_overall)
        right = not open_set and bool(scoped.hits) and scoped.hits[0].properties["product_id"] == w.truth
        has_answer = not open_set and not off
        n["windows"] += 1
        n["in_lineup"] += has_answer
        n["off_lineup"] += off and not open_set
        n["lineup_scope"] += scoped.scope == "lineup"
        if scoped.claimed:
            n["claimed"] += 1
            n["correct"] += right
            n["claimed_in_lineup"] += has_answer
            n["claimed_off_lineup_wrong"] += off and not right
    n["precision"] = n["correct"] / n["claimed"] if n["claimed"] else None
    n["precision_lower_95"] = binomial_lower(n["correct"], n["claimed"]) if n["claimed"] else None
    n["coverage"] = n["claimed_in_lineup"] / n["in_lineup"] if n["in_lineup"] else None
    return n


def markdown(report: dict) -> str:
    lines = [
        "| catalog | lineup | lineup rule | windows | claimed | precision | 95 % lower bound | coverage (product in lineup) | off-lineup windows claimed wrong | lineup scope |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]

    def f(x: float | None) -> str:
        return "–" if x is None else f"{x:.3f}"

    for r in report["rows"]:
        n = r["counts"]
        if "precision" not in n:  # junk: every claim is wrong
            lines.append(f"| {r['catalog']} | {r['lineup']} | – | {n['windows']} | {n['claimed']} / "
                         f"{n['claimed_lineup_worst_case']} | – | – | – | – | – |")
            continue
        lines.append(f"| {r['catalog']} | {r['lineup']} | {r.get('rule', '–')} | {n['windows']} | {n['claimed']} | {f(n['precision'])} | "
                     f"{f(n['precision_lower_95'])} | {f(n['coverage'])} | {n['claimed_off_lineup_wrong']} of {n['off_lineup']} | "
                     f"{n['lineup_scope']} |")
    return "\n".join(lines) + "\n"


def prepare(ds: Dataset, encoder, images: _Images, prod, half: str, junk: int) -> dict:
    """The windows of one calibration half (simulation and junk), their search scores and summaries."""
    from engines.summarize.extractive import ExtractiveSummarizer
    from engines.summarize.schema import SummaryRequest

    sim_w = [w for w in calibration.sim_windows(ds, images, 4) if w.split == half]
    junk_w = calibration.junk_windows(half, 1 if half == "val" else 2, junk, [])
    out = {}
    for name, windows in (("sim", sim_w), ("junk", junk_w)):
        sim = calibration.search_scores(windows, ds.products, prod, calibration.encode_windows(encoder, windows))
        summaries = ExtractiveSummarizer().summarize([SummaryRequest(window_id=str(i), text=w.text or "") for i, w in enumerate(windows)])
        out[name] = (windows, sim, [s.has_product if w.text else None for s, w in zip(summaries, windows)])
    return out


def lineup_scored(windows: list[Window], sim: np.ndarray, products: list[ProductRecord], has_product: list,
                  sizes: tuple[int, ...], off_share: float, seed: int, worst_case: bool,
                  kinds: tuple[str, ...] = ("look-alikes",)) -> calibration.Scored:
    """Lineup-scope features of the windows a lineup tag would judge (the catalog's best product is in the
    lineup), for fitting: lineups of every size in ``sizes`` and of ``kinds`` (by default the hard one,
    with the product's look-alikes), ``off_share`` without the window's product; ``worst_case`` (junk,
    open set): the lineup always holds the catalog's best product."""
    pids = [p.product_id for p in products]
    col = {p: j for j, p in enumerate(pids)}
    rng = random.Random(seed)
    feats, correct, in_cat, kept = [], [], [], []
    for size in sizes:
        for kind in kinds:
            for i, w in enumerate(windows):
                row = sim[i]
                best = pids[int(np.argmax(row))]
                if w.truth is None or worst_case:
                    lineup = [best] + lineup_for(best, products, size, "random", True, rng, set())[: size - 1]
                    truth_in = w.truth in lineup
                else:
                    off = rng.random() < off_share
                    lineup = lineup_for(w.truth, products, size, kind, off, rng, set())
                    truth_in = not off
                if best not in lineup:
                    continue  # the catalog answers this window, under its own thresholds
                in_lineup = hits(row, pids, only=[col[p] for p in lineup], limit=TOP_K)
                branches = (bool(w.images), bool(w.text))
                feats.append(calibration.ClaimFeatures(tuple(h.score for h in in_lineup), *branches, has_product[i]))
                correct.append(w.truth is not None and in_lineup[0].properties["product_id"] == w.truth)
                in_cat.append(truth_in)
                kept.append(w)
    return calibration.Scored(kept, feats, np.array(correct), np.array(in_cat), np.zeros(len(kept), dtype=bool))


def open_set(windows: list[Window], sim: np.ndarray, products: list[ProductRecord]) -> tuple[list[Window], np.ndarray]:
    """The windows with their product's group removed from the catalog (scores -inf): no right answer."""
    group = {p.product_id: p.group or p.product_id for p in products}
    pgroups = np.array([group[p.product_id] for p in products])
    out = sim.copy()
    for i, w in enumerate(windows):
        out[i, pgroups == group[w.truth]] = -np.inf
    return [Window("open-set", w.split, None, w.images, w.text, w.note) for w in windows], out


def fit_lineup(data: dict, products: list[ProductRecord], target: float, off_share: float, seed: int) -> dict:
    """Lineup thresholds per modality on one half: the most right lineup claims at precision >= ``target``
    with no junk window claimed (``calibration.fit_modality``)."""
    windows, sim, hp = data["sim"]
    parts = [lineup_scored(windows, sim, products, hp, SIZES, off_share, seed, False)]
    ow, osim = open_set(windows, sim, products)
    parts.append(lineup_scored(ow, osim, products, hp, (10,), 0.0, seed, True))
    jw, jsim, jhp = data["junk"]
    parts.append(lineup_scored(jw, jsim, products, jhp, (10,), 0.0, seed, True))
    scored = calibration.join(parts)
    return {m: calibration.fit_modality(scored, m, target) for m in MODALITIES}


def rows_for(data: dict, products: list[ProductRecord], off_share: float, seed: int) -> list[dict]:
    windows, sim, hp = data["sim"]
    rows = [{"catalog": "whole", "lineup": "none", "counts": decide_all(windows, sim, products, hp, None, "", 0.0, False, seed)}]
    for guard in (True, False):
        name = "best overall in lineup" if guard else "lineup first (no guard)"
        for kind in ("random", "look-alikes"):
            for size in SIZES:
                counts = decide_all(windows, sim, products, hp, size, kind, off_share, False, seed, guard)
                rows.append({"catalog": "whole", "lineup": f"{kind}, K={size}, {off_share:.0%} off-lineup", "rule": name,
                             "counts": counts})
        rows.append({"catalog": "open set (product's group removed)", "lineup": "random, K=10 (all others)", "rule": name,
                     "counts": decide_all(windows, sim, products, hp, 10, "random", 0.0, True, seed, guard)})
    rows.append({"catalog": "open set (product's group removed)", "lineup": "none",
                 "counts": decide_all(windows, sim, products, hp, None, "", 0.0, True, seed)})
    jw, jsim, jhp = data["junk"]
    junk = {"windows": len(jw), "claimed": 0, "claimed_lineup_worst_case": 0}
    rule = shipped_rule()
    pids = [p.product_id for p in products]
    for i, w in enumerate(jw):
        catalog = hits(jsim[i], pids, limit=TOP_K)
        branches = [b for b, has in (("visual", bool(w.images)), ("text", bool(w.text))) if has]
        summary = {"has_product": jhp[i]} if jhp[i] is not None else None
        lineup = [catalog[0].properties["product_id"]] if catalog else []
        s_cat = choose_scope(catalog, None, None, branches, summary, rule, TOP_K)
        s_lin = choose_scope(catalog, hits(jsim[i], pids, only=[pids.index(p) for p in lineup]), lineup, branches, summary,
                             rule, TOP_K)
        junk["claimed"] += s_cat.claimed
        junk["claimed_lineup_worst_case"] += s_lin.claimed
    rows.append({"catalog": "junk (no product)", "lineup": "none / a lineup holding the catalog's best product",
                 "counts": junk})
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sample", type=Path, required=True, help="Simulated dataset (ampere simulate).")
    parser.add_argument("--encoder", default="onnx")
    parser.add_argument("--off-share", type=float, default=OFF_SHARE)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--junk", type=int, default=60, help="Junk windows of each kind group per half.")
    parser.add_argument("--fit", action="store_true",
                        help="Choose the lineup thresholds on the validation half and write them into claims.json first.")
    parser.add_argument("--target", type=float, default=calibration.TARGET_PRECISION)
    parser.add_argument("--rule", type=Path, default=RULE_FILE)
    parser.add_argument("--half", choices=("val", "test"), default="test", help="Calibration half to report.")
    parser.add_argument("--out", type=Path, default=Path("bench/results/lineups"))
    args = parser.parse_args(argv)

    from engines.encode import load_encoder

    encoder = load_encoder(args.encoder, None)
    ds = Dataset.load(args.sample)
    images = _Images(ds)
    prod = calibration.gallery(encoder, ds.products, images)
    if args.fit:
        fitted = fit_lineup(prepare(ds, encoder, images, prod, "val", args.junk), ds.products, args.target, args.off_share,
                            args.seed)
        base = ClaimRule.from_json(args.rule.read_text(encoding="utf-8"))
        wrong = base.mismatch(str(getattr(encoder, "model_version", "")), args.encoder, SCORING_ID)
        if wrong:
            raise SystemExit(f"{args.rule}: {wrong}; fit its catalog thresholds first (python -m tooling.bench.calibration)")
        rule = replace(base, lineup_thresholds=fitted, lineup_source={
            "chosen_on": "validation half (hash of product group), lineups of 5/10/30 products holding the "
                         f"window's product and all its look-alikes ({args.off_share:.0%} without the window's product), open set and junk with a "
                         "lineup holding the catalog's best product",
            "target_precision": args.target, "command": "python -m tooling.bench.lineups --fit",
            "model_version": str(getattr(encoder, "model_version", ""))})
        args.rule.write_text(rule.to_json(), encoding="utf-8")
        shipped_rule.cache_clear()
    rows = rows_for(prepare(ds, encoder, images, prod, args.half, args.junk), ds.products, args.off_share, args.seed)
    report = {"dataset": str(ds.root.name), "windows": f"simulation, {args.half} half (held-out products)",
              "rule": json.loads(shipped_rule().to_json()), "off_share": args.off_share, "seed": args.seed, "top_k": TOP_K,
              "rows": rows, "command": "python -m tooling.bench.lineups --sample $AMPERE_HOME/data/sample [--fit]"}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    args.out.with_suffix(".md").write_text(markdown(report), encoding="utf-8")
    print(markdown(report))


if __name__ == "__main__":
    main()
