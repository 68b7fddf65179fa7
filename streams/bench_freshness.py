"""`ampere bench freshness`: S concurrent replayed streams; window close → queryable / visible, per stage."""

from __future__ import annotations

import asyncio
import json
import math
import time
from pathlib import Path

from rich.console import Console

from encoders.dataset import Dataset
from streams.demo import run_replay, summarize_report
from streams.settings import Settings


def _fmt(x: float) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.2f}"


def run_freshness(
    settings: Settings, ds: Dataset, stream_counts: list[int], speed: float, console: Console, out_dir: Path
) -> list[dict]:
    """One worker per configuration; batched and unbatched for every stream count. Writes JSON + markdown."""
    live = sorted(k for k, v in ds.streams().items() if v and v[0].domain == "live")
    if not live:
        raise ValueError(f"{ds.root} has no live streams")
    rows = []
    stamp = time.strftime("%Y%m%d%H%M%S")
    first = True
    for s_count in stream_counts:
        for batched in (True, False):
            cfg = settings.model_copy(
                update={"batch_size": settings.batch_size if batched else 1, "batch_wait_ms": settings.batch_wait_ms if batched else 0}
            )
            tag = f"{stamp}{'b' if batched else 'u'}{s_count}-"
            console.rule(f"{s_count} stream(s), batching {'on' if batched else 'off'}")
            rep = asyncio.run(
                run_replay(
                    cfg, ds, [live[0]], copies=s_count, speed=speed, console=console,
                    worker_log=settings.home / "logs" / "worker-bench.log", load_catalog=first,
                    live_lines=False, run_tag=tag,
                )
            )
            first = False
            res = summarize_report(rep)
            res.update(streams=s_count, batched=batched, speed=speed, summarizer=settings.summarizer, encoder=settings.encoder_engine)
            rows.append(res)
            console.print(json.dumps({k: v for k, v in res.items() if k != "mean_stage_s"}, default=str))
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "freshness.json").write_text(json.dumps(rows, indent=2, default=str) + "\n")
    lines = [
        (
            f"Freshness: {settings.summarizer} summarizer, {settings.encoder_engine} encoder, replay {speed:g}x, "
            f"window {settings.window_ms / 1000:g}s, batch {settings.batch_size}/{settings.batch_wait_ms}ms."
        ),
        "",
        "| streams | batching | windows | windows/s | close→queryable p50 / p95 / p99 s | close→visible p50 / p95 / p99 s | summarize s (mean) | encode s (mean) | p99 ratio off/on |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        on = next((x for x in rows if x["streams"] == r["streams"] and x["batched"]), None)
        ratio = r["visible_p99_s"] / on["visible_p99_s"] if on and not r["batched"] and on["visible_p99_s"] else float("nan")
        lines.append(
            f"| {r['streams']} | {'on' if r['batched'] else 'off'} | {r['windows']} | {_fmt(r['windows_per_s'])} | "
            f"{_fmt(r['queryable_p50_s'])} / {_fmt(r.get('queryable_p95_s'))} / {_fmt(r['queryable_p99_s'])} | "
            f"{_fmt(r['visible_p50_s'])} / {_fmt(r['visible_p95_s'])} / {_fmt(r['visible_p99_s'])} | "
            f"{_fmt(r['mean_stage_s']['summarize'])} | {_fmt(r['mean_stage_s']['encode'])} | {_fmt(ratio)} |"
        )
    (out_dir / "freshness.md").write_text("\n".join(lines) + "\n")
    console.print("\n".join(lines))
    return rows
