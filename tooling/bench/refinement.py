"""Which text should revision 2 (the LLM-refined moment) encode? Paired comparisons against the transcript.

Revision 1 encodes a window's keyframes and its transcript; revision 2 has, in addition, the LLM
summary. Candidates for revision 2's text branch, each scored by the tag agent's rule
(``encoders.scoring``: keyframes + text against catalog photos + text, spoken attribute re-rank):

- ``transcript``: revision 1's text (the baseline: revision 2 keeps revision 1's vectors);
- ``summary``: the LLM sentence alone (the former revision 2);
- ``average``: the transcript and the sentence embedded apart, text vectors averaged;
- ``appended``: the sentence appended to the transcript, embedded once;
- ``fields query``: the transcript query and a second query from the summary's fields (name,
  brand, category, attribute values), their score matrices averaged.

Rule (``streams.worker.revision_text``): revision 2 uses a candidate only when its R@1 gain over the
transcript has a 95 % paired-bootstrap interval above 0; otherwise it keeps the transcript.
Windows whose summary is empty or fell back keep the transcript in every candidate.

Run: ``python -m tooling.bench.refinement --dataset DIR [--engine llamacpp]`` (uses the cached LLM
summaries of the held-out split, ``tooling.summaries``; ``--summarize`` computes missing ones).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from encoders.attributes import attribute_values, said_matrix, terms
from encoders.dataset import Dataset, MomentRecord
from encoders.metrics import (
    first_relevant_ranks,
    paired_bootstrap_delta,
    relevance,
    retrieval_metrics,
)
from encoders.scoring import Branches, similarity, with_attributes
from engines.encode.base import EncodeItem
from engines.summarize.schema import Summary
from tooling.bench import calibration
from tooling.evaluate import _Images, pick_keyframes
from tooling.summaries import load_or_summarize, read_summaries, summaries_path

CANDIDATES = ("transcript", "summary", "average", "appended", "fields query")


def fields_text(s: Summary) -> str:
    """The summary's structured facts as one short text (what a catalog title + attributes look like)."""
    attrs = s.attributes.model_dump() if hasattr(s.attributes, "model_dump") else dict(s.attributes)
    vals = [v for v in attrs.values() if isinstance(v, str) and v] + [x for v in attrs.values() if isinstance(v, list) for x in v]
    return " ".join(x for x in [s.product_name, s.brand, s.category, *vals] if x)


def _unit(x: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, n, out=np.zeros_like(x), where=n > 0)


def ranks(q: Branches, prod: Branches, said: np.ndarray, truth: list[str], pids: list[str]) -> np.ndarray:
    return first_relevant_ranks(with_attributes(similarity(q, prod), said), relevance(truth, pids))


def measure(ds: Dataset, encoder, engine: str, summarize: bool = False, max_keyframes: int = 4) -> dict:
    """R@1 of every candidate on the held-out live moments that have a summary by ``engine``."""
    moments: list[MomentRecord] = [m for m in ds.split("test").moments if m.domain == "live" and m.asr_text.strip()]
    if summarize:
        summaries = load_or_summarize(ds, moments, engine)
    else:
        cached = read_summaries(summaries_path(ds.root, engine))
        summaries = {m.moment_id: cached[m.moment_id] for m in moments if m.moment_id in cached}
    moments = [m for m in moments if m.moment_id in summaries]
    if not moments:
        raise ValueError(f"no held-out live moment has a cached '{engine}' summary: run with --summarize")
    images = _Images(ds)
    products = ds.products
    pids = [p.product_id for p in products]
    prod = calibration._cached([EncodeItem("product", [images(r) for r in p.images], p.text) for p in products], encoder)
    frames = [[images(r) for r in pick_keyframes(m, max_keyframes)] for m in moments]
    truth = [m.product_id for m in moments]
    usable = [not summaries[m.moment_id].is_empty and not summaries[m.moment_id].is_fallback for m in moments]
    sent = [summaries[m.moment_id].sentence if u else None for m, u in zip(moments, usable)]

    def enc(texts: list[str | None]) -> Branches:
        return calibration._cached([EncodeItem("live", f, t) for f, t in zip(frames, texts)], encoder)

    values = [attribute_values(p.attributes) for p in products]
    spoken = [set(terms(m.asr_text)) for m in moments]
    said = np.asarray(said_matrix(spoken, values), dtype=np.float64).reshape(len(moments), len(products))
    transcript = [m.asr_text for m in moments]
    base = enc(transcript)
    summ = enc([s if s else t for s, t in zip(sent, transcript)])
    appended = enc([f"{t} {s}" if s else t for s, t in zip(sent, transcript)])
    avg = Branches(base.fused, base.visual, _unit(base.text + summ.text), base.visual_mask, base.text_mask)
    fields = [fields_text(summaries[m.moment_id]) if u else "" for m, u in zip(moments, usable)]
    fq = enc([f or t for f, t in zip(fields, transcript)])
    sim_t = with_attributes(similarity(base, prod), said)
    sim_f = with_attributes(similarity(fq, prod), said)
    rel = relevance(truth, pids)
    out_ranks = {
        "transcript": first_relevant_ranks(sim_t, rel),
        "summary": ranks(summ, prod, said, truth, pids),
        "average": ranks(avg, prod, said, truth, pids),
        "appended": ranks(appended, prod, said, truth, pids),
        "fields query": first_relevant_ranks((sim_t + sim_f) / 2, rel),
    }
    rows = []
    for name in CANDIDATES:
        r = out_ranks[name]
        delta, lo, hi = paired_bootstrap_delta(out_ranks["transcript"], r)
        rows.append({"name": name, **retrieval_metrics(r), "delta_R@1": delta, "ci": [lo, hi], "ranks": r.tolist()})
    wins = [r for r in rows if r["name"] != "transcript" and r["ci"][0] > 0]
    best = max(wins, key=lambda r: r["delta_R@1"])["name"] if wins else "transcript"
    return {"engine": engine, "moments": len(moments), "usable_summaries": int(sum(usable)), "rows": rows, "chosen": best}


def markdown(res: dict) -> str:
    lines = ["## Revision 2's text branch", "",
             (f"Held-out live moments with a `{res['engine']}` summary: {res['moments']} ({res['usable_summaries']} usable, "
             "the others keep the transcript in every row). R@1 difference against the transcript, 95 % paired bootstrap."), "",
             "| revision 2 text | R@1 | R@5 | ΔR@1 vs transcript | 95 % CI |", "| --- | ---: | ---: | ---: | --- |"]
    for r in res["rows"]:
        ci = "–" if r["name"] == "transcript" else f"{r['ci'][0]:+.3f} … {r['ci'][1]:+.3f}"
        d = "–" if r["name"] == "transcript" else f"{r['delta_R@1']:+.3f}"
        lines.append(f"| {r['name']} | {r['R@1']:.3f} | {r['R@5']:.3f} | {d} | {ci} |")
    lines += ["", f"Chosen: **{res['chosen']}**" + (" (no candidate beats the transcript with an interval above 0: revision 2 keeps "
                                                    "revision 1's vectors and adds the structured facts)" if res["chosen"] == "transcript" else ""), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--engine", default="llamacpp")
    parser.add_argument("--encoder", default="onnx")
    parser.add_argument("--summarize", action="store_true", help="Summarize moments missing from the cache.")
    parser.add_argument("--out", type=Path, default=Path("bench/results/refinement"))
    parser.add_argument("--cache", type=Path, help="Keep encodings here between runs.")
    args = parser.parse_args(argv)
    calibration.CACHE = args.cache
    from engines.encode import load_encoder

    res = measure(Dataset.load(args.dataset), load_encoder(args.encoder, None), args.engine, args.summarize)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(res, indent=2, allow_nan=True) + "\n", encoding="utf-8")
    args.out.with_suffix(".md").write_text(markdown(res), encoding="utf-8")
    print(markdown(res))


if __name__ == "__main__":
    main()
