"""Claims per window against claims per product segment, in catalog and on the open set.

Windows: each held-out live moment of the simulation (one product on screen) cut into windows of
``--window-ms`` (the worker's default), with the ASR chunks and keyframes that fall in each; the moment is
the segment. **Test half only** (the calibration bench's hash of the product group): the shipped rule
was chosen on the other half, and nothing is fitted here. Each window is tagged by the tag stage's own
decision (``streams.worker.tag_scope.choose_scope``, catalog scope) and folded, in time order, into its
segment by the segment agent's own rule (``streams.worker.segments``).

- ``in catalog``: the right answer is the moment's product;
- ``open set``: the moment's whole product group (its look-alikes) removed from the catalog: every
  claim is wrong.

Reported per window (a window counts as claimed when *its* tag is, or when the segment it lies in is
claimed once the segment holds every window), with the exact 95 % lower bound on precision, and the
windows from a segment's start to its first claim as the segment grows (the switch → first claim
delay, in windows). Run: ``python -m tooling.bench.segments --sample $AMPERE_HOME/data/sample`` →
``bench/results/segments.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from encoders.dataset import Dataset, MomentRecord
from streams.schemas import TagRecord
from streams.settings import Settings
from streams.worker.claims import shipped_rule
from streams.worker.segments import SegmentState, decide, segment_id
from streams.worker.tag_scope import choose_scope
from tooling.bench import calibration
from tooling.bench.calibration import TOP_K, Window
from tooling.bench.lineups import binomial_lower, hits
from tooling.evaluate import _Images

MAX_KEYFRAMES = 4


def moment_windows(m: MomentRecord, images: _Images, window_ms: int, split: str) -> list[Window]:
    """The windows of one moment: its time span cut every ``window_ms``, each with its speech and frames."""
    times = [c.start_ms for c in m.asr] + [k.ts_ms for k in m.keyframes]
    if not times:
        return []
    out = []
    for start in range(min(times), max(times) + 1, window_ms):
        end = start + window_ms
        text = " ".join(c.text for c in m.asr if start <= c.start_ms < end and c.text).strip() or None
        frames = [k.path for k in m.keyframes if start <= k.ts_ms < end]
        if len(frames) > MAX_KEYFRAMES:
            frames = [frames[i] for i in np.linspace(0, len(frames) - 1, MAX_KEYFRAMES).round().astype(int)]
        if text or frames:
            out.append(Window("sim", split, m.product_id, [images(f) for f in frames], text, f"{m.moment_id}@{start}"))
    return out


def segment_rows(ds: Dataset, images: _Images, window_ms: int, half: str) -> list[tuple[str, list[Window]]]:
    """(moment id, its windows) of the held-out live moments of one calibration half."""
    groups = {p.product_id: p.group or p.product_id for p in ds.products}
    rows = []
    for m in ds.split("test").moments:
        split = calibration.half(groups[m.product_id])
        if m.domain == "live" and split == half:
            ws = moment_windows(m, images, window_ms, split)
            if ws:
                rows.append((m.moment_id, ws))
    return rows


def run(rows: list[tuple[str, list[Window]]], sim: np.ndarray, ds: Dataset, open_set: bool) -> dict:
    """Window and segment claims of every moment (``open_set``: without its product's group)."""
    rule = shipped_rule()
    pids = [p.product_id for p in ds.products]
    group = {p.product_id: p.group or p.product_id for p in ds.products}
    pgroups = np.array([group[p] for p in pids])
    n = {"segments": 0, "windows": 0, "window_claimed": 0, "window_correct": 0, "segment_claimed": 0,
         "segment_correct": 0, "covered_windows": 0, "covered_correct": 0, "either_claimed": 0, "either_correct": 0}
    delays: list[int] = []
    i = 0
    for moment_id, ws in rows:
        state = SegmentState(segment_id(moment_id, 0), moment_id, 0)
        window_claims: list[tuple[bool, bool]] = []
        first_claim = None
        for k, w in enumerate(ws):
            row = sim[i].copy()
            i += 1
            if open_set:
                row[pgroups == group[w.truth]] = -np.inf
            branches = [b for b, has in (("visual", bool(w.images)), ("text", bool(w.text))) if has]
            scoped = choose_scope(hits(row, pids, limit=TOP_K), None, None, branches, None, rule, limit=TOP_K)
            top = scoped.hits[0].properties["product_id"] if scoped.hits else None
            right = not open_set and top == w.truth
            window_claims.append((scoped.claimed, right))
            modality = "visual+text" if len(branches) == 2 else branches[0] if branches else "none"
            state.fold(TagRecord(
                object_id=f"{moment_id}#{k}", stream_id=moment_id, window=(k, k + 1), tagged_at=float(k),
                products=[{"product_id": h.properties["product_id"], "title": "", "score": h.score} for h in scoped.hits],
                claimed=scoped.claimed, unclaimed_reason=scoped.reason, scope=scoped.scope, modality=modality,
            ))
            if first_claim is None and decide(state, rule).claimed:
                first_claim = k
        verdict = decide(state, rule)
        seg_right = not open_set and verdict.product_id == ws[0].truth
        n["segments"] += 1
        n["windows"] += len(ws)
        n["window_claimed"] += sum(c for c, _ in window_claims)
        n["window_correct"] += sum(c and r for c, r in window_claims)
        n["segment_claimed"] += verdict.claimed
        n["segment_correct"] += verdict.claimed and seg_right
        if verdict.claimed:
            n["covered_windows"] += len(ws)
            n["covered_correct"] += len(ws) * seg_right
        for c, r in window_claims:  # what a shopper sees per window: the segment's claim, else the window's
            if verdict.claimed:
                n["either_claimed"] += 1
                n["either_correct"] += seg_right
            elif c:
                n["either_claimed"] += 1
                n["either_correct"] += r
        if first_claim is not None:
            delays.append(first_claim)
    out = dict(n)
    for key, claimed, correct in (("per_window", "window_claimed", "window_correct"),
                                  ("per_segment", "segment_claimed", "segment_correct"),
                                  ("windows_by_segment", "covered_windows", "covered_correct"),
                                  ("shown", "either_claimed", "either_correct")):
        total = n["segments"] if key == "per_segment" else n["windows"]
        out[key] = {"claimed": n[claimed], "correct": n[correct], "of": total,
                    "claim_rate": n[claimed] / total if total else None,
                    "precision": n[correct] / n[claimed] if n[claimed] else None,
                    "precision_lower_95": binomial_lower(n[correct], n[claimed]) if n[claimed] else None}
    out["windows_to_first_claim"] = {"segments_claimed": len(delays),
                                     "p50": float(np.percentile(delays, 50)) if delays else None,
                                     "p99": float(np.percentile(delays, 99)) if delays else None}
    return out


def markdown(report: dict) -> str:
    lines = [f"# Segments: claims per window and per segment ({report['windows']})", "",
             (f"Window {report['window_ms'] / 1000:.0f} s; rule `streams/worker/claims.json`; {report['moments']} moments. "
             "`claim rate` is of all windows (segments); in the open set every claim is wrong."), "",
             "| set | view | claimed / of | claim rate | precision | 95 % lower bound |", "| --- | --- | --- | --- | --- | --- |"]
    names = {"per_window": "each window alone", "per_segment": "segments", "windows_by_segment": "windows in a claimed segment",
             "shown": "window shows segment claim, else its own"}
    for set_name, res in report["sets"].items():
        for key, label in names.items():
            r = res[key]
            prec = "-" if r["precision"] is None else f"{r['precision']:.3f}"
            lower = "-" if r["precision_lower_95"] is None else f"{r['precision_lower_95']:.3f}"
            lines.append(f"| {set_name} | {label} | {r['claimed']} / {r['of']} | {r['claim_rate']:.3f} | {prec} | {lower} |")
    d = report["sets"]["in catalog"]["windows_to_first_claim"]
    lines += ["", (f"Windows from a segment's start to its first claim (in catalog, {d['segments_claimed']} claimed "
              f"segments; 0 = its first window): p50 {d['p50']}, p99 {d['p99']}."), "", f"Command: `{report['command']}`", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sample", type=Path, required=True, help="Simulated dataset (ampere simulate).")
    parser.add_argument("--encoder", default="onnx")
    parser.add_argument("--window-ms", type=int, default=Settings().window_ms)
    parser.add_argument("--half", choices=("val", "test"), default="test", help="Calibration half to report.")
    parser.add_argument("--out", type=Path, default=Path("bench/results/segments"))
    args = parser.parse_args(argv)

    from engines.encode import load_encoder

    encoder = load_encoder(args.encoder, None)
    ds = Dataset.load(args.sample)
    images = _Images(ds)
    prod = calibration.gallery(encoder, ds.products, images)
    rows = segment_rows(ds, images, args.window_ms, args.half)
    windows = [w for _, ws in rows for w in ws]
    sim = calibration.search_scores(windows, ds.products, prod, calibration.encode_windows(encoder, windows))
    report = {"dataset": ds.root.name, "windows": f"simulation, {args.half} half (held-out products)",
              "window_ms": args.window_ms, "moments": len(rows),
              "sets": {"in catalog": run(rows, sim, ds, False), "open set": run(rows, sim, ds, True)},
              "command": "python -m tooling.bench.segments --sample $AMPERE_HOME/data/sample"}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    args.out.with_suffix(".md").write_text(markdown(report), encoding="utf-8")
    print(markdown(report))


if __name__ == "__main__":
    main()
