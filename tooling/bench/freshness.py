"""`ampere bench freshness`: S concurrent distinct replayed streams; close → first queryable (revision 1),
close → refined (revision 2), and the broadcaster's view (last record sent → queryable)."""

from __future__ import annotations

import asyncio
import json
import math
import os
import time
from pathlib import Path

from rich.console import Console

from encoders.dataset import Dataset
from streams.settings import Settings
from tooling.bench import cpu
from tooling.bench.refine_role import refined_coverage
from tooling.demo import run_replay, summarize_report
from tooling.infra.ports import free_port

#: First-queryable p99 a configuration must hold to count towards the knee.
KNEE_P99_S = 2.0


def _fmt(x: float | None) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.2f}"


def knee(rows: list[dict], p99_s: float = KNEE_P99_S) -> float | None:
    """The most real-time streams (streams × replay speed) held at first-queryable p99 ≤ ``p99_s``."""
    ok = [r["realtime_streams"] for r in rows if r["batched"] and r["queryable_p99_s"] <= p99_s]
    return max(ok) if ok else None


def knee_row(rows: list[dict], p99_s: float = KNEE_P99_S) -> dict | None:
    """The row of the highest offered load held at first-queryable p99 ≤ ``p99_s`` (None if none is)."""
    ok = [r for r in rows if r["batched"] and r["queryable_p99_s"] <= p99_s]
    return max(ok, key=lambda r: r["realtime_streams"]) if ok else None


def cores_text(cores: dict[str, float]) -> str:
    """Cores each process role kept busy over a row (CPU seconds / wall seconds), in a fixed order."""
    if not cores:
        return "-"
    return " / ".join(f"{cores.get(role, 0.0):.2f}" for role in ("worker", "kafka", "weaviate", cpu.BENCH, cpu.OTHER))


def run_freshness(
    settings: Settings,
    ds: Dataset,
    stream_counts: list[int],
    speed: float,
    console: Console,
    out_dir: Path,
    compare_batching: bool = False,
    stagger: bool = False,
    workers: int = 1,
) -> list[dict]:
    """One worker per configuration (distinct sample streams, cycled when more are asked for than exist).
    Writes freshness.json + freshness.md."""
    live = sorted(k for k, v in ds.streams().items() if v and v[0].domain == "live")
    if not live:
        raise ValueError(f"{ds.root} has no live streams")
    rows = []
    stamp = time.strftime("%Y%m%d%H%M%S")
    first = True
    for s_count in stream_counts:
        for batched in (True, False) if compare_batching else (True,):
            cfg = settings.model_copy(
                update={"batch_size": settings.batch_size if batched else 1, "batch_wait_ms": settings.batch_wait_ms if batched else 0,
                        "metrics_port": free_port()}  # the replay waits for this worker's /readyz
            )
            tag = f"{stamp}{'b' if batched else 'u'}{s_count}-"
            console.rule(f"{s_count} stream(s) at {speed:g}x, batching {'on' if batched else 'off'}")
            ids = [live[i % len(live)] for i in range(s_count)]
            rep = asyncio.run(
                run_replay(
                    cfg, ds, ids, speed=speed, console=console,
                    worker_log=settings.home / "logs" / "worker-bench.log", load_catalog=first,
                    live_lines=False, run_tag=tag, stagger=stagger, workers=workers,
                )
            )
            first = False
            res = summarize_report(rep)
            res["refined_coverage"] = refined_coverage(rep.embeddings)  # share of windows refined, by age
            res["load_avg_1m_end"], res["load_avg_5m_end"] = os.getloadavg()[:2]
            res.update(
                streams=s_count, realtime_streams=s_count * speed, batched=batched, speed=speed,
                summarizer=settings.summarizer, two_phase=settings.two_phase, encoder=settings.encoder_engine,
                starts="staggered over a hop" if stagger else "together", workers=workers,
                encoder_threads=settings.encoder_threads or os.cpu_count(),
            )
            rows.append(res)
            console.print(json.dumps({k: v for k, v in res.items() if k != "mean_stage_s"}, default=str))
            write_results(settings, rows, speed, out_dir, console)  # after every row: a stopped run keeps its rows
    return rows


def write_results(settings: Settings, rows: list[dict], speed: float, out_dir: Path, console: Console) -> None:
    """freshness.json + a markdown table with the knee."""
    out_dir.mkdir(parents=True, exist_ok=True)
    k, kr = knee(rows), knee_row(rows)
    (out_dir / "freshness.json").write_text(json.dumps(
        {"rows": rows, "knee_realtime_streams": k, "knee_windows_per_s": kr["windows_per_s"] if kr else None},
        indent=2, default=str) + "\n")
    lines = [
        (
            f"Freshness: {settings.summarizer} summarizer (two-phase {'on' if settings.two_phase else 'off'}), "
            f"{settings.encoder_engine} encoder, replay {speed:g}x, window {settings.window_ms / 1000:g}s, "
            f"batch {settings.batch_size}/{settings.batch_wait_ms}ms; {rows[0].get('workers', 1) if rows else 1} worker "
            f"process(es), encoder threads {settings.encoder_threads or os.cpu_count()} each; streams start "
            f"{rows[0].get('starts', 'together') if rows else 'together'}."
        ),
        "",
        (
            "| streams | real-time streams | batching | windows | windows/s | close→first queryable p50 / p99 s | "
            "last record sent→queryable p50 / p99 s | close→refined p50 / p99 s (n) | encode s (mean) | load 1 / 5 min | "
            "cores used: worker / kafka / weaviate / bench / other |"
        ),
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r['streams']} | {r['realtime_streams']:g} | {'on' if r['batched'] else 'off'} | {r['windows']} | "
            f"{_fmt(r['windows_per_s'])} | {_fmt(r['queryable_p50_s'])} / {_fmt(r['queryable_p99_s'])} | "
            f"{_fmt(r.get('felt_p50_s'))} / {_fmt(r.get('felt_p99_s'))} | "
            f"{_fmt(r.get('refined_p50_s'))} / {_fmt(r.get('refined_p99_s'))} ({r.get('refined', 0)}) | "
            f"{_fmt(r['mean_stage_s']['encode'])} | {_fmt(r.get('load_avg_1m_end'))} / {_fmt(r.get('load_avg_5m_end'))} | "
            f"{cores_text(r.get('cores_used') or {})} |"
        )
    knee_text = (f"{k:g} real-time streams, {kr['windows_per_s']:.2f} windows/s (p99 {kr['queryable_p99_s']:.2f} s)"
                 if kr else "none (no row held it)")
    lines += ["", f"Knee (highest offered load at first-queryable p99 ≤ {KNEE_P99_S:g} s): {knee_text}.",
              "Machine load (1-minute average) at the end of each row: "
              + ", ".join(f"{r.get('load_avg_1m_end', float('nan')):.1f}" for r in rows) + f" on {os.cpu_count()} cores."]
    (out_dir / "freshness.md").write_text("\n".join(lines) + "\n")
    console.print("\n".join(lines))
