"""The demo and the freshness benchmark: catalog in, live streams replayed, tags printed as they arrive."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import math
import os
import signal
import statistics
import time
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import SecretStr
from rich.console import Console

from encoders.dataset import Dataset, MomentRecord
from engines.store.weaviate_store import WeaviateStore
from streams.kafka import KafkaSource, group_lag_async
from streams.kafka.admin import ensure_topics
from streams.kafka.topics import TopicNames, window_group
from streams.ops.counters import read_all as read_counters
from streams.sdk.publish import (
    dataset_lineup,
    merge_streams,
    product_message,
    replay,
    send_all,
    stream_messages,
)
from streams.settings import Settings
from streams.worker.window_stage import counters_path
from streams.worker.wiring import build_store_from
from tooling.bench import cpu
from tooling.consume import follow, spawn_worker
from tooling.dashboard.launch import spawn_dashboard, wait_http
from tooling.dashboard.launch import stop as stop_process
from tooling.infra.ports import free_port, port_is_open

log = logging.getLogger("ampere.demo")


def settings_env(settings: Settings) -> dict[str, str]:
    """Environment that gives a child process exactly these settings."""
    env = dict(os.environ)
    for name, value in settings.model_dump().items():
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if value is not None:
            env[f"AMPERE_{name.upper()}"] = str(value)
    env.setdefault("HF_HUB_OFFLINE", "1")
    return env


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no values."""
    if not values:
        return float("nan")
    s = sorted(values)
    k = max(0, min(len(s) - 1, math.ceil(q / 100 * len(s)) - 1))
    return s[k]


def truth_for(moments: Sequence[MomentRecord], start_ms: int, end_ms: int) -> str | None:
    """Ground-truth product of a window: the segment that overlaps it most."""
    best, best_overlap = None, 0
    for m in moments:
        times = [c.start_ms for c in m.asr] + [c.end_ms for c in m.asr] + [k.ts_ms for k in m.keyframes]
        if not times:
            continue
        overlap = min(end_ms, max(times)) - max(start_ms, min(times))
        if overlap > best_overlap:
            best, best_overlap = m.product_id, overlap
    return best


def quiet_needed_s(settings: Settings) -> float:
    """How long no window may close before a run counts as done: a stream's last window closes on its end
    marker (``end_settle_ms``) or on quiet (``idle_close_ms``), so the longer of the two plus a margin
    (a shorter wait ended runs with windows still open in the stage, closed later by the next worker)."""
    return max(settings.end_settle_ms, settings.idle_close_ms) / 1000 + 5


def stagger_starts(n: int, span_ms: int) -> list[int]:
    """Start offsets (stream time) of ``n`` streams spread evenly over ``span_ms``: stream ``i`` starts
    ``i * span_ms / n`` later, so window closes are spread over the span instead of coinciding."""
    return [i * span_ms // n for i in range(n)] if n else []


@dataclass
class RunReport:
    """What one replay produced, as seen by a subscriber."""

    windows: int = 0
    tags: list[dict] = field(default_factory=list)
    segments: list[dict] = field(default_factory=list)
    embeddings: list[dict] = field(default_factory=list)
    dlq: list[dict] = field(default_factory=list)
    visible_lag_s: list[float] = field(default_factory=list)
    queryable_lag_s: list[float] = field(default_factory=list)
    refined_lag_s: list[float] = field(default_factory=list)
    felt_lag_s: list[float] = field(default_factory=list)  # last record sent by the broadcaster → first queryable
    wall_s: float = 0.0
    loss: dict[str, int] = field(default_factory=dict)  # the worker's loss counters (streams.ops.counters)
    cpu_s: dict[str, float] = field(default_factory=dict)  # CPU seconds by process role over the replay


class Subscriber:
    """Collects embeddings, tags and dead letters from the moment it is started.

    With ``streams``, only records of those stream ids count: a worker that starts on a group left
    with uncommitted windows of an earlier run indexes them too, and they are not this run's.
    """

    def __init__(self, kafka: KafkaSource, topics: TopicNames, on_tag=None, streams: Collection[str] | None = None) -> None:
        self.kafka, self.topics, self.on_tag = kafka, topics, on_tag
        self.streams = frozenset(streams) if streams is not None else None
        self.report = RunReport()
        self.last_event = time.time()
        self.last_window = time.time()
        self.closed: set[tuple[str, int, int]] = set()
        self.skipped: set[tuple[str, int, int]] = set()
        self.videos: set[tuple[str, int, int]] = set()
        self._tasks: list[asyncio.Task] = []

    async def start(self) -> None:
        events = []
        subs = (
            (self.topics.windows, self._win),
            (self.topics.embeddings, self._emb),
            (self.topics.tags, self._tag),
            (self.topics.segments, self._segment),
            (self.topics.dlq, self._dlq),
        )
        for topic, sink in subs:
            ev = asyncio.Event()
            events.append(ev)
            self._tasks.append(asyncio.create_task(self._run(topic, sink, ev)))
        deadline = time.time() + 60
        while not all(e.is_set() for e in events):
            for t in self._tasks:
                if t.done():
                    t.result()  # re-raises why a subscription failed
            if time.time() > deadline:
                raise TimeoutError("subscriptions to the output topics did not start within 60 s")
            await asyncio.sleep(0.1)

    async def _run(self, topic: str, sink, ready: asyncio.Event) -> None:
        async for rec in follow(self.kafka, topic, ready=ready):
            self.last_event = time.time()
            sink(rec)

    def _mine(self, stream_id: str | None) -> bool:
        return self.streams is None or stream_id in self.streams

    def _win(self, rec: dict) -> None:
        if not self._mine(rec.get("stream_id")):
            return
        key = (rec["stream_id"], rec["start_ms"], rec["end_ms"])
        self.closed.add(key)
        if rec.get("domain") == "video":
            self.videos.add(key)
        self.last_window = time.time()

    def pending(self) -> int:
        """Closed windows not yet indexed (on ampere.embeddings) and, for live ones, tagged."""
        indexed = {(e["stream_id"], *e["window"]) for e in self.report.embeddings}
        tagged = {(t["stream_id"], *t["window"]) for t in self.report.tags} | self.videos
        return len(self.closed - (indexed & tagged) - self.skipped)

    def _emb(self, rec: dict) -> None:
        if rec.get("kind") == "product" or not self._mine(rec.get("stream_id")):
            return
        self.report.embeddings.append(rec)
        if not rec.get("closed_at"):
            return
        if rec.get("revision", 1) > 1:
            self.report.refined_lag_s.append(rec["indexed_at"] - rec["closed_at"])
        else:
            self.report.visible_lag_s.append(time.time() - rec["closed_at"])
            self.report.queryable_lag_s.append(rec["indexed_at"] - rec["closed_at"])

    def _tag(self, rec: dict) -> None:
        if not self._mine(rec.get("stream_id")):
            return
        self.report.tags.append(rec)
        if self.on_tag:
            self.on_tag(rec)

    def _segment(self, rec: dict) -> None:
        if self._mine(rec.get("stream_id")):
            self.report.segments.append(rec)

    def _dlq(self, rec: dict) -> None:
        if self.streams is not None and rec.get("key_b64"):
            try:
                key = base64.b64decode(rec["key_b64"]).decode("utf-8", "replace")
            except ValueError:
                key = None
            if key not in self.streams and rec.get("topic") != self.topics.products:
                return
        self.report.dlq.append(rec)
        if rec.get("topic") == self.topics.summaries:  # a window the worker could not index: done with it
            try:
                w = json.loads(base64.b64decode(rec["value_b64"]))["window"]
                self.skipped.add((w["stream_id"], w["start_ms"], w["end_ms"]))
            except (KeyError, ValueError, TypeError):
                pass

    async def wait_done(
        self, settle_s: float, timeout_s: float, alive=lambda: True, lag_grace_s: float | None = None
    ) -> None:
        """Return once the worker's consumer group has committed every message of every topic it
        reads, no window closed for ``settle_s``, and every closed window is indexed and tagged.

        Raises TimeoutError after ``timeout_s``, RuntimeError when ``alive()`` turns false.
        """
        t0 = time.time()
        t = self.topics
        group = f"{t.prefix}-worker"
        consumed = {  # the window stage commits as its own group
            window_group(t.prefix): [t.asr, t.keyframes, t.events],
            group: [t.products, t.windows, t.summaries, t.embeddings],
        }

        async def lag() -> int:
            try:
                return sum([await group_lag_async(self.kafka, g, tps) for g, tps in consumed.items()])
            except Exception:  # noqa: BLE001 - metadata not there yet: not done
                return -1

        async def outstanding() -> int:
            left = await lag()
            quiet = time.time() - max(self.last_event, self.last_window)
            if left and lag_grace_s is not None and quiet > lag_grace_s and not self.pending():
                log.warning("every closed window is indexed, but %s offsets of group %s are still uncommitted "
                            "after %.0fs of quiet; not waiting for them", left, group, quiet)
                return 0
            return left

        while time.time() - self.last_window < settle_s or self.pending() or await outstanding():
            if not alive():
                raise RuntimeError("the worker stopped before every window was indexed")
            if time.time() - t0 > timeout_s:
                raise TimeoutError(f"{self.pending()} closed windows still not indexed and tagged after {timeout_s:.0f}s")
            await asyncio.sleep(1.0)

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def wait_for_products(store: WeaviateStore, n: int, timeout_s: float, console: Console) -> int:
    """Wait until the Product collection holds ``n`` objects."""
    t0 = time.time()
    with console.status(f"indexing {n} catalog products ...") as status:
        while True:
            have = await asyncio.to_thread(store.count, "product")
            status.update(f"indexing catalog products: {have}/{n} ({time.time() - t0:.0f}s)")
            if have >= n:
                return have
            if time.time() - t0 > timeout_s:
                raise TimeoutError(f"only {have} of {n} products indexed after {timeout_s:.0f}s; see the worker log")
            await asyncio.sleep(1.0)


def felt_lags(embeddings: Sequence[dict], sent: dict[str, list[tuple[int, float]]]) -> list[float]:
    """Per first-indexed window: seconds from the wall time its last record was sent (the broadcaster's
    view, so grace, idle and settle waits count) to the time it became queryable."""
    out = []
    for e in embeddings:
        if e.get("revision", 1) != 1 or not e.get("window") or e.get("stream_id") not in sent:
            continue
        start, end = e["window"]
        walls = [w for ts, w in sent[e["stream_id"]] if start <= ts < end]
        if walls:
            out.append(e["indexed_at"] - max(walls))
    return out


def start_afresh_if_another_model(store: WeaviateStore, console: Console) -> None:
    """The demo's local index may hold vectors of an earlier model (another dimension), which Weaviate
    would refuse to mix: drop those collections (the demo re-indexes the catalog) and say so."""
    from encoders.config import SHIPPED_MODEL_DIR, AmpereConfig
    from streams.worker.wiring import IndexMismatch, check_index_matches

    try:
        check_index_matches(store, AmpereConfig.load(SHIPPED_MODEL_DIR).branch_dims())
    except IndexMismatch as exc:
        console.print(f"[yellow]{exc}[/yellow]\nthe demo's local index is started afresh")
        store.drop()
        store.ensure_collections()


def latest_tags(tags: Sequence[dict]) -> list[dict]:
    """The newest revision of each window's tags (a refinement replaces the provisional tags)."""
    best: dict[tuple, dict] = {}
    for t in tags:
        key = (t["stream_id"], tuple(t["window"]))
        if key not in best or t.get("revision", 1) >= best[key].get("revision", 1):
            best[key] = t
    return list(best.values())


def latest_segments(segments: Sequence[dict]) -> list[dict]:
    """The newest revision of every segment, in stream and time order."""
    best: dict[str, dict] = {}
    for seg in segments:
        if seg["segment_id"] not in best or seg["revision"] >= best[seg["segment_id"]]["revision"]:
            best[seg["segment_id"]] = seg
    return sorted(best.values(), key=lambda g: (g["stream_id"], g["start_ms"]))


def segment_coverage(segments: Sequence[dict], tags: Sequence[dict], truth: Mapping) -> dict:
    """Of the tagged windows: how many lie in a claimed segment, and how many of those the segment names right."""
    claimed = [g for g in latest_segments(segments) if g["claimed"]]
    covered = right = 0
    for t in tags:
        start, end = t["window"]
        seg = next((g for g in claimed if g["stream_id"] == t["stream_id"] and g["start_ms"] <= start and end <= g["end_ms"]), None)
        if seg is not None:
            covered += 1
            right += seg["product_id"] == truth.get((t["stream_id"], tuple(t["window"])))
    return {"windows_in_claimed_segment": covered, "right_in_claimed_segment": right}


def format_segment(seg: dict) -> str:
    """One line of a stream's segment timeline."""
    span = f"{seg['start_ms'] / 1000:6.1f}-{seg['end_ms'] / 1000:6.1f}s"
    what = (f"[bold]{seg['title'] or seg['product_id']}[/bold] [cyan]{seg['score']:.2f}[/cyan] ({seg['basis']})"
            if seg["claimed"] else f"[dim]not claimed: {seg.get('reason')}[/dim]")
    return f"  {seg['stream_id']:<14} {span}  {seg['windows']:>3} windows  {what}  [dim]rev {seg['revision']}[/dim]"


def start_dashboard(settings: Settings, port: int, log_dir: Path, console: Console):
    """Start the live dashboard beside the demo and print its URL (None when the port is taken)."""
    url = f"http://{settings.dashboard_host}:{port}/"
    if port_is_open(port, settings.dashboard_host):
        console.print(f"[yellow]port {port} is taken; the dashboard is not started (AMPERE_DASHBOARD_PORT)[/yellow]")
        return None
    proc = spawn_dashboard(settings_env(settings), log_dir / "dashboard-demo.log", port, settings.dashboard_host)
    try:
        wait_http(url + "healthz", 60, proc)
    except (TimeoutError, RuntimeError) as exc:
        console.print(f"[yellow]dashboard did not start ({exc}); see {log_dir / 'dashboard-demo.log'}[/yellow]")
        stop_process(proc)
        return None
    console.print(f"[bold]live dashboard: {url}[/bold]")
    return proc


def format_tag(rec: dict, truth: str | None) -> str:
    """One live line of the demo (``↻`` marks a refinement by the LLM summary)."""
    start, end = rec["window"]
    top = rec["products"][0] if rec["products"] else None
    if not rec["claimed"] or top is None:
        why = rec.get("unclaimed_reason") or "no product above threshold"
        guess = f" (best guess {top['title']} {top['score']:.2f})" if top else ""
        verdict = f"[dim]not claimed: {why}{guess}[/dim]"
    else:
        ok = "[green]✓[/green]" if truth == top["product_id"] else f"[red]✗[/red] (truth {truth})"
        verdict = f"[bold]{top['title']}[/bold] [cyan]{top['score']:.2f}[/cyan] {ok}"
    phase = "↻" if rec.get("revision", 1) > 1 else " "
    scope = " [dim](lineup)[/dim]" if rec.get("scope") == "lineup" else ""
    return f"{phase} {rec['stream_id']:<14} {start / 1000:6.1f}-{end / 1000:6.1f}s  {verdict}{scope}"


async def run_replay(
    settings: Settings,
    ds: Dataset,
    stream_ids: Sequence[str],
    *,
    copies: int = 1,
    speed: float,
    console: Console,
    worker_log: Path,
    load_catalog: bool = True,
    live_lines: bool = True,
    run_tag: str = "",
    dashboard_port: int | None = None,
    stagger: bool = False,
    workers: int = 1,
    lineup_size: int = 0,
) -> RunReport:
    """Start a worker, load the catalog, replay streams, collect what subscribers see, stop the worker.

    With ``stagger``, the streams start spread evenly over one window hop instead of together, so their
    windows close spread over time as independent broadcasts' do, not all in the same instant. With
    ``workers`` > 1, that many worker processes share the partitions (one consumer group), each with
    its own metrics port and log. With ``lineup_size`` > 0 each stream declares a lineup of that many
    catalog products (the ones it shows, then others: ``streams.sdk.publish.dataset_lineup``)."""
    topics = TopicNames(settings.topic_prefix)
    ensure_topics(settings, topics.all(), settings.topic_partitions)
    store = build_store_from(settings)
    start_afresh_if_another_model(store, console)
    streams = ds.streams()
    truth = {}
    started = time.time()
    procs = []
    for i in range(workers):
        own = settings if i == 0 else settings.model_copy(update={"metrics_port": free_port() if settings.metrics_port else 0})
        log_path = worker_log if i == 0 else worker_log.with_name(f"{worker_log.stem}-{i}{worker_log.suffix}")
        procs.append((own, spawn_worker(settings_env(own), log_path)))
        console.print(f"worker started (pid {procs[-1][1].pid}, log {log_path.name})")
    for own, proc in procs:
        if own.metrics_port:  # replay only once the models are loaded: a slow start is not window latency
            ready_s = await asyncio.to_thread(wait_http, f"http://127.0.0.1:{own.metrics_port}/readyz", 600, proc)
            console.print(f"worker {proc.pid} ready after {ready_s:.0f}s")
    dashboard = start_dashboard(settings, dashboard_port, worker_log.parent, console) if dashboard_port else None

    def on_tag(rec: dict) -> None:
        src, _, _ = rec["stream_id"].partition("#")
        t = truth_for(streams.get(src, []), *rec["window"])
        truth[(rec["stream_id"], tuple(rec["window"]))] = t
        if live_lines:
            console.print(format_tag(rec, t))

    renames = {
        (c, i): f"{sid}#{run_tag}{c}-{i}" if copies > 1 or run_tag or len(set(stream_ids)) < len(stream_ids) else sid
        for c in range(copies)
        for i, sid in enumerate(stream_ids)
    }
    sub = Subscriber(settings, topics, on_tag, streams=renames.values())
    try:
        await sub.start()
        if load_catalog:
            n = await send_all(settings, [product_message(ds, p, topics) for p in ds.products])
            await wait_for_products(store, n, timeout_s=900, console=console)
            console.print(f"catalog: {n} products indexed")
        timelines = [
            stream_messages(ds, sid, streams[sid], topics, rename=renames[c, i] if renames[c, i] != sid else None,
                            lineup=dataset_lineup(ds, streams[sid], lineup_size, seed=c * 1000 + i) if lineup_size else None)
            for c in range(copies)
            for i, sid in enumerate(stream_ids)
        ]
        t0 = sub.last_event = sub.last_window = time.time()  # quiet counts from the replay, not the worker's start
        cpu_before = cpu.snapshot()
        console.print(f"replaying {len(timelines)} stream(s) at {speed:g}x ...")
        sent: dict[str, list[tuple[int, float]]] = {}

        def on_sent(m) -> None:
            sent.setdefault(m.key.decode(), []).append((m.ts_ms, time.time()))

        starts = stagger_starts(len(timelines), settings.hop_ms) if stagger else None
        await replay(settings, merge_streams(timelines, starts), speed=speed, on_sent=on_sent)
        settle = quiet_needed_s(settings)
        try:
            await sub.wait_done(settle_s=settle, timeout_s=3600, alive=lambda: all(p.poll() is None for _, p in procs),
                                lag_grace_s=60)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}; see {worker_log}") from exc
        sub.report.wall_s = max(sub.last_event, sub.last_window) - t0
        sub.report.cpu_s = cpu.by_role(cpu_before, cpu.snapshot())  # before the worker stops: it must still be seen
    finally:
        await sub.stop()
        for _, proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for _, proc in procs:
            try:
                await asyncio.to_thread(proc.wait, 30)
            except Exception:  # noqa: BLE001
                proc.kill()
        store.close()
        if dashboard is not None:
            stop_process(dashboard)
            console.print("dashboard stopped; `ampere dashboard` serves it again")
    sub.report.loss = read_counters(counters_path(settings).parent, since=started)
    sub.report.windows = len({r["object_id"] for r in sub.report.embeddings})
    sub.report.felt_lag_s = felt_lags(sub.report.embeddings, sent)
    sub.report.truth = truth  # type: ignore[attr-defined]
    return sub.report


def summarize_report(rep: RunReport) -> dict:
    """Numbers of a run: windows, tags, accuracy vs ground truth, freshness percentiles, DLQ."""
    truth = getattr(rep, "truth", {})
    tags = latest_tags(rep.tags)
    claimed = [t for t in tags if t["claimed"]]
    top1 = sum(1 for t in claimed if t["products"][0]["product_id"] == truth.get((t["stream_id"], tuple(t["window"]))))
    top3 = sum(
        1 for t in tags if truth.get((t["stream_id"], tuple(t["window"]))) in [p["product_id"] for p in t["products"][:3]]
    )
    return {
        "windows": rep.windows,
        "tags": len(tags),
        "felt_p50_s": percentile(rep.felt_lag_s, 50),
        "felt_p99_s": percentile(rep.felt_lag_s, 99),
        "refined": len(rep.refined_lag_s),
        "refined_p50_s": percentile(rep.refined_lag_s, 50),
        "refined_p99_s": percentile(rep.refined_lag_s, 99),
        "claimed": len(claimed),
        "top1_correct_of_claimed": top1,
        "segments": len(latest_segments(rep.segments)),
        "segments_claimed": sum(1 for g in latest_segments(rep.segments) if g["claimed"]),
        **segment_coverage(rep.segments, tags, truth),
        "top3_hit": top3,
        "dlq": len(rep.dlq),
        "loss": rep.loss,
        "queryable_p50_s": percentile(rep.queryable_lag_s, 50),
        "queryable_p95_s": percentile(rep.queryable_lag_s, 95),
        "queryable_p99_s": percentile(rep.queryable_lag_s, 99),
        "visible_p50_s": percentile(rep.visible_lag_s, 50),
        "visible_p95_s": percentile(rep.visible_lag_s, 95),
        "visible_p99_s": percentile(rep.visible_lag_s, 99),
        "windows_per_s": rep.windows / rep.wall_s if rep.wall_s > 0 else float("nan"),
        "cpu_s": rep.cpu_s,
        "cores_used": {k: round(v / rep.wall_s, 2) for k, v in rep.cpu_s.items()} if rep.wall_s > 0 else {},
        "summary_sources": dict(
            Counter((e.get("summary") or {}).get("source", "?") for e in rep.embeddings if e.get("kind") == "live")
        ),
        "mean_stage_s": {
            k: statistics.fmean([e.get("timings", {}).get(k, 0.0) for e in rep.embeddings]) if rep.embeddings else float("nan")
            for k in ("summarize", "queue", "prepare", "encode", "store")
        },
    }
