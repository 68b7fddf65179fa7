"""Refinement as its own worker role, side by side with one worker doing everything.

``python -m tooling.bench.refine_role --streams 50 --speed 4`` replays the same streams twice on the
running local services: once with one ``--role all`` worker, once with a ``--role provisional``
worker beside a ``--role refine`` worker bound to ``AMPERE_REFINE_CPUS`` at ``AMPERE_REFINE_NICE``
(each configuration on its own fresh topics). It reports close → first queryable (revision 1) and the
refined coverage: the share of closed windows that got their LLM revision, by age at refinement,
instead of a refined p99 over the few that were not shed. Writes refine-role.json / refine-role.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import time
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from encoders.dataset import Dataset
from streams.settings import Settings
from streams.worker.roles import plan_cpu_share
from tooling.infra.ports import free_port
from tooling.infra.process import stop_all

#: Ages (seconds from close to the refined revision being queryable) the coverage is reported at.
AGE_BUCKETS_S: tuple[float, ...] = (10.0, 30.0, 60.0, 120.0)


def refined_coverage(embeddings: Sequence[dict], buckets: Sequence[float] = AGE_BUCKETS_S) -> dict:
    """Of the windows indexed (revision 1), how many were refined (revision 2) at all and within each
    age bucket (close → refined queryable), from the records on the embeddings topic."""
    closed: set[str] = set()
    age: dict[str, float] = {}
    for e in embeddings:
        if e.get("kind") == "product":
            continue
        if e.get("revision", 1) <= 1:
            closed.add(e["object_id"])
        elif e.get("closed_at"):
            a = float(e["indexed_at"]) - float(e["closed_at"])
            age[e["object_id"]] = min(a, age.get(e["object_id"], math.inf))
    refined = {k: v for k, v in age.items() if k in closed}
    n = len(closed)

    def share(k: int) -> float | None:
        return round(k / n, 4) if n else None

    return {
        "windows": n,
        "refined": len(refined),
        "refined_share": share(len(refined)),
        "refined_share_by_age": {f"<={b:g}s": share(sum(1 for a in refined.values() if a <= b)) for b in buckets},
    }


def _fmt(x: float | None, digits: int = 2) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def markdown(rows: list[dict], speed: float, settings: Settings) -> str:
    """The side-by-side table."""
    ages = list(rows[0]["coverage"]["refined_share_by_age"]) if rows else []
    lines = [
        (f"Refinement role, {settings.summarizer} summarizer (two-phase), {settings.encoder_engine} encoder, replay "
        f"{speed:g}x, window {settings.window_ms / 1000:g}s, refinements shed after {settings.refine_max_lag_ms / 1000:g}s, "
        f"{os.cpu_count()} cores."),
        "",
        "| configuration | streams | windows | windows/s | close→first queryable p50 / p99 s | close→refined p50 / p99 s | "
        "refined / windows | " + " | ".join(f"refined {a}" for a in ages) + " | load (1 min) |",
        "| --- | ---: | ---: | ---: | --- | --- | ---: |" + " ---: |" * len(ages) + " ---: |",
    ]
    for r in rows:
        c = r["coverage"]
        lines.append(
            f"| {r['configuration']} | {r['streams']} | {r['windows']} | {_fmt(r['windows_per_s'])} | "
            f"{_fmt(r['queryable_p50_s'])} / {_fmt(r['queryable_p99_s'])} | {_fmt(r['refined_p50_s'])} / "
            f"{_fmt(r['refined_p99_s'])} | {c['refined']} / {c['windows']} ({_fmt(c['refined_share'])}) | "
            + " | ".join(_fmt(v) for v in c["refined_share_by_age"].values())
            + f" | {_fmt(r['load_avg_1m_end'], 1)} |"
        )
    lines += ["", ("refined ≤ Ns: share of the windows indexed whose LLM revision was queryable within N s of the "
              "window's close (windows refined after the replay settled are not counted in either configuration).")]
    return "\n".join(lines) + "\n"


def _spawn_refine(settings: Settings, log: Path):
    from tooling.consume import spawn_worker
    from tooling.demo import settings_env

    return spawn_worker(settings_env(settings.model_copy(update={"worker_role": "refine", "metrics_port": 0})), log)


def run_refine_roles(
    settings: Settings, ds: Dataset, stream_count: int, speed: float, console: Console, out_dir: Path,
) -> list[dict]:
    """Both configurations on the same streams; writes refine-role.json / refine-role.md."""
    from tooling.demo import run_replay, summarize_report

    live = sorted(k for k, v in ds.streams().items() if v and v[0].domain == "live")
    ids = [live[i % len(live)] for i in range(stream_count)]
    stamp = time.strftime("%Y%m%d%H%M%S")
    share = plan_cpu_share(settings.refine_cpus, settings.refine_nice, settings.llm_threads, settings.llm_decode_threads,
                           os.sched_getaffinity(0))  # what the refine worker applies to itself
    configs = [
        ("one worker, role all", settings.model_copy(update={"worker_role": "all"})),
        ((f"provisional + refine (cpus {settings.refine_cpus or 'all'}, nice +{settings.refine_nice}, "
         f"llama.cpp threads {share.threads}/{share.decode_threads})"),
         settings.model_copy(update={"worker_role": "provisional"})),
    ]
    from streams.worker.wiring import build_store_from

    store = build_store_from(settings)
    catalog_loaded = store.count("product") >= len(ds.products)  # an earlier run indexed it: not again, not timed
    store.close()
    rows = []
    for i, (name, cfg) in enumerate(configs):
        cfg = cfg.model_copy(update={  # fresh topics and groups; a port of its own (another worker may hold the default)
            "topic_prefix": f"{settings.topic_prefix}-rr{stamp}{i}", "metrics_port": free_port()})
        console.rule(f"{name}: {stream_count} streams at {speed:g}x")
        log_dir = settings.home / "logs"
        refine = _spawn_refine(cfg, log_dir / "worker-refine-bench.log") if cfg.worker_role == "provisional" else None
        try:
            rep = asyncio.run(run_replay(cfg, ds, ids, speed=speed, console=console, worker_log=log_dir / "worker-bench.log",
                                         load_catalog=i == 0 and not catalog_loaded, live_lines=False, run_tag=f"{stamp}{i}-"))
        finally:
            if refine is not None:
                stop_all([refine], wait_s=30)
        res = summarize_report(rep)
        res.update(configuration=name, streams=stream_count, speed=speed, load_avg_1m_end=os.getloadavg()[0],
                   coverage=refined_coverage(rep.embeddings))
        rows.append(res)
        console.print(json.dumps({k: v for k, v in res.items() if k != "mean_stage_s"}, default=str))
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "refine-role.json").write_text(json.dumps({"rows": rows}, indent=2, default=str) + "\n")
    table = markdown(rows, speed, settings)
    (out_dir / "refine-role.md").write_text(table)
    console.print(table)
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: the local services must be up (``ampere infra up``)."""
    from tooling.cli.pipeline import ensure_sample

    p = argparse.ArgumentParser(prog="python -m tooling.bench.refine_role", description=__doc__.split("\n\n")[0])
    p.add_argument("--streams", type=int, default=50)
    p.add_argument("--speed", type=float, default=4.0)
    p.add_argument("--out", type=Path, default=Path("bench/results"))
    a = p.parse_args(argv)
    settings = Settings()
    run_refine_roles(settings, Dataset.load(ensure_sample(None)), a.streams, a.speed, Console(), a.out)


if __name__ == "__main__":
    main()
