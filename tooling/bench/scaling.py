"""`ampere bench scaling`: the same offered load (same streams, same speed) on 1, 2 and 3 workers over a
3-broker / 3-node cluster, and the pause a rebalance causes when a worker joins and when one leaves.

Per worker count: windows indexed per second of the run, first-queryable p50/p99 (closed → indexed,
revision 1), the workers' CPU seconds from /proc, and windows per busy core (windows per CPU second of
all workers: on a machine with fewer cores than processes this shows the overhead of more workers,
not a speed-up). The churn run keeps two workers busy, starts a third (join) and stops one with
SIGTERM (leave); the pause is the time from the membership change until the window stage closes a
window again on a partition that changed owner (and until such a window is queryable), beside the
usual gap between closes on those partitions before the change.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import signal
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from aiokafka.partitioner import murmur2
from rich.console import Console

from encoders.dataset import Dataset
from streams.kafka import admin_client
from streams.kafka.admin import ensure_topics
from streams.kafka.topics import TopicNames, window_group
from streams.sdk.publish import Outgoing, merge_streams, replay, stream_messages
from streams.settings import Settings
from streams.worker.wiring import build_store_from
from tooling.bench import cpu
from tooling.consume import spawn_worker
from tooling.demo import Subscriber, percentile, settings_env
from tooling.infra.local_cluster import LocalCluster
from tooling.infra.process import stop_all

PARTITIONS = 6  # divisible by 1, 2 and 3 workers


# --- pure arithmetic ------------------------------------------------------------------------------


def per_core(windows: int, wall_s: float, cpu_s: float) -> dict[str, float]:
    """windows/s, busy cores (worker CPU seconds per wall second) and windows/s per busy core
    (= windows per CPU second)."""
    return {
        "windows_per_s": windows / wall_s if wall_s > 0 else float("nan"),
        "busy_cores": cpu_s / wall_s if wall_s > 0 else float("nan"),
        "windows_per_busy_core_s": windows / cpu_s if cpu_s > 0 else float("nan"),
    }


def partition_of(key: str, partitions: int) -> int:
    """The partition Kafka's default partitioner picks for ``key`` (murmur2, as every producer here)."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


def owners(description: Mapping, topic: str) -> dict[int, str]:
    """Partition -> member id of ``topic`` in a kafka-python ``describe_groups`` entry."""
    out: dict[int, str] = {}
    for member in description.get("members") or []:
        assignment = member.get("member_assignment") or {}
        for tp in assignment.get("assigned_partitions") or []:
            if tp.get("topic") == topic:
                out |= {p: member["member_id"] for p in tp.get("partitions") or []}
    return out


def moved(before: Mapping[int, str], after: Mapping[int, str]) -> set[int]:
    """Partitions whose owner changed (or that were unowned on one side)."""
    return {p for p in set(before) | set(after) if before.get(p) != after.get(p)}


def resume_pause(changed_at: float, partitions: set[int], events: Iterable[tuple[float, int]]) -> float | None:
    """Seconds from ``changed_at`` to the first event ``(wall time, partition)`` after it on one of
    ``partitions``; None when none came."""
    after = [t for t, p in events if t > changed_at and p in partitions]
    return min(after) - changed_at if after else None


def usual_gap(before: float, partitions: set[int], events: Iterable[tuple[float, int]]) -> float | None:
    """Median seconds between consecutive events on the same partition of ``partitions`` before ``before``."""
    by_p: dict[int, list[float]] = {}
    for t, p in events:
        if t < before and p in partitions:
            by_p.setdefault(p, []).append(t)
    gaps = [b - a for ts in by_p.values() for a, b in zip(sorted(ts), sorted(ts)[1:], strict=False)]
    return statistics.median(gaps) if gaps else None


# --- processes ------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its waited-for children."""
    return cpu.process_cpu_s(pid, children=True)


class Closes(Subscriber):
    """A subscriber that also remembers when each window closed and on which input partition."""

    def __init__(self, settings: Settings, topics: TopicNames, streams: Sequence[str]) -> None:
        super().__init__(settings, topics, streams=streams)
        self.closes: list[tuple[float, int]] = []

    def _win(self, rec: dict) -> None:
        super()._win(rec)
        if self._mine(rec.get("stream_id")):
            self.closes.append((rec.get("closed_at") or time.time(), partition_of(rec["stream_id"], PARTITIONS)))

    def indexed(self) -> list[tuple[float, int]]:
        """(indexed_at, partition) of first revisions of windows closed after the subscription started."""
        return [(e["indexed_at"], partition_of(e["stream_id"], PARTITIONS))
                for e in self.report.embeddings if e.get("revision", 1) == 1 and e.get("indexed_at")]


@dataclass
class Run:
    """One configuration's topics, collections, worker processes and logs."""

    settings: Settings
    log_dir: Path
    procs: list[subprocess.Popen]

    @classmethod
    def create(cls, base: Settings, tag: str, log_dir: Path) -> Run:
        s = base.model_copy(update={"topic_prefix": f"sc{tag}", "collection_prefix": f"Sc{tag}",
                                    "topic_partitions": PARTITIONS, "metrics_port": 0})
        ensure_topics(s, TopicNames(s.topic_prefix).all(), PARTITIONS)
        store = build_store_from(s)
        store.ensure_collections()
        store.close()
        return cls(s, log_dir, [])

    @property
    def group(self) -> str:
        return window_group(self.settings.topic_prefix)

    def spawn(self) -> subprocess.Popen:
        p = spawn_worker(settings_env(self.settings), self.log_dir / f"{self.settings.topic_prefix}-{len(self.procs)}.log")
        self.procs.append(p)
        return p

    def alive(self) -> bool:
        return any(p.poll() is None for p in self.procs)

    def cpu(self) -> float:
        return sum(cpu_seconds(p.pid) for p in self.procs if p.poll() is None)

    def describe(self) -> dict:
        admin = admin_client(self.settings, client_id="ampere-bench")
        try:
            return admin.describe_groups([self.group])[self.group]
        finally:
            admin.close()

    async def stable(self, members: int, timeout_s: float = 300.0) -> dict:
        """The group's description once it is Stable with ``members`` members."""
        t0 = time.time()
        while True:
            try:
                desc = await asyncio.to_thread(self.describe)
                if desc.get("group_state") == "Stable" and len(desc.get("members") or []) == members:
                    return desc
            except Exception:  # noqa: BLE001, S110 - no coordinator yet: ask again
                pass
            if not self.alive() or time.time() - t0 > timeout_s:
                raise RuntimeError(f"group {self.group} never had {members} stable members; logs in {self.log_dir}")
            await asyncio.sleep(0.25)

    async def rebalancing(self, members_before: int, timeout_s: float = 300.0) -> float:
        """Wall time at which the group is seen leaving its stable state of ``members_before`` members."""
        t0 = time.time()
        while True:
            try:
                desc = await asyncio.to_thread(self.describe)
                if desc.get("group_state") != "Stable" or len(desc.get("members") or []) != members_before:
                    return time.time()
            except Exception:  # noqa: BLE001, S110 - no coordinator yet: ask again
                pass
            if time.time() - t0 > timeout_s:
                raise RuntimeError(f"group {self.group} never rebalanced")
            await asyncio.sleep(0.1)

    def stop(self) -> None:
        stop_all(self.procs, wait_s=60)


def timeline(ds: Dataset, topics: TopicNames, stream_ids: Sequence[str], tag: str,
             rounds: int = 1) -> tuple[list[tuple[int, Outgoing]], list[str]]:
    """The merged timeline of ``stream_ids`` renamed for this run; ``rounds`` > 1 starts the same streams
    again (new ids) when the previous round ends, for a longer steady load."""
    streams = ds.streams()
    names, timelines = [], []
    length = max(m.ts_ms for sid in set(stream_ids) for m in stream_messages(ds, sid, streams[sid], topics)) + 1_000
    for r in range(rounds):
        for i, sid in enumerate(stream_ids):
            name = f"{sid}#{tag}-{r}-{i}"
            names.append(name)
            msgs = stream_messages(ds, sid, streams[sid], topics, rename=name)
            timelines.append([Outgoing(m.ts_ms + r * length, m.order, m.topic, m.key, m.value) for m in msgs])
    return merge_streams(timelines), names


# --- runs -----------------------------------------------------------------------------------------


async def measure(run: Run, ds: Dataset, stream_ids: Sequence[str], speed: float, tag: str, workers: int,
                  console: Console) -> dict:
    """``workers`` workers under the replay of ``stream_ids`` at ``speed``: throughput, latency, CPU."""
    topics = TopicNames(run.settings.topic_prefix)
    tl, names = timeline(ds, topics, stream_ids, tag)
    for _ in range(workers):
        run.spawn()
    await run.stable(workers)
    sub = Closes(run.settings, topics, names)
    await sub.start()
    cpu0, t0 = run.cpu(), time.time()
    await replay(run.settings, tl, speed=speed)
    await sub.wait_done(settle_s=run.settings.end_settle_ms / 1000 + 5, timeout_s=1800, alive=run.alive, lag_grace_s=60)
    cpu_s = run.cpu() - cpu0
    await sub.stop()
    firsts = [e for e in sub.report.embeddings if e.get("revision", 1) == 1]
    wall_s = max([e["indexed_at"] for e in firsts], default=t0) - t0
    lags = sub.report.queryable_lag_s
    row = {
        "workers": workers, "streams": len(names), "speed": speed, "windows": len({e["object_id"] for e in firsts}),
        "wall_s": round(wall_s, 1), "worker_cpu_s": round(cpu_s, 1),
        "queryable_p50_s": percentile(lags, 50), "queryable_p99_s": percentile(lags, 99),
        "dead_letters": len(sub.report.dlq), "load_avg_1m_end": os.getloadavg()[0],
    }
    row |= per_core(row["windows"], wall_s, cpu_s)
    console.print(json.dumps(row, default=str))
    return row


async def churn(run: Run, ds: Dataset, stream_ids: Sequence[str], speed: float, tag: str, rounds: int,
                console: Console) -> list[dict]:
    """Two workers under a steady load; a third joins, then one leaves (SIGTERM): the pause of each."""
    topics = TopicNames(run.settings.topic_prefix)
    tl, names = timeline(ds, topics, stream_ids, tag, rounds=rounds)
    run.spawn()
    run.spawn()
    before = owners(await run.stable(2), topics.asr)
    sub = Closes(run.settings, topics, names)
    await sub.start()
    sending = asyncio.create_task(replay(run.settings, tl, speed=speed))
    span_s = tl[-1][0] / 1000 / speed
    await asyncio.sleep(span_s / 5)
    rows = []

    async def change(what: str, act: Callable[[], None], members_before: int, members_after: int,
                     at: float | None = None) -> dict:
        nonlocal before
        act()
        changed = at if at is not None else await run.rebalancing(members_before)
        after = owners(await run.stable(members_after), topics.asr)
        parts = moved(before, after)
        before = after
        await asyncio.sleep(max(10.0, span_s / 5))
        row = {
            "change": what, "moved_partitions": sorted(parts),
            "window_stage_pause_s": resume_pause(changed, parts, sub.closes),
            "queryable_pause_s": resume_pause(changed, parts, sub.indexed()),
            "usual_gap_s": usual_gap(changed, parts, sub.closes),
        }
        console.print(json.dumps(row, default=str))
        return row

    # a join is seen when the group leaves Stable: the new worker first loads its models, then joins
    rows.append(await change("join (2 -> 3 workers)", run.spawn, 2, 3))
    leaving = run.procs[0]
    rows.append(await change("leave (3 -> 2 workers, SIGTERM)", lambda: leaving.send_signal(signal.SIGTERM), 3, 2,
                             at=time.time()))
    await sending
    await sub.wait_done(settle_s=run.settings.end_settle_ms / 1000 + 5, timeout_s=1800, alive=run.alive, lag_grace_s=60)
    await sub.stop()
    return rows


def run_scaling(settings: Settings, ds: Dataset, streams: int, speed: float, worker_counts: Sequence[int],
                churn_rounds: int, console: Console, out_dir: Path, cluster_root: Path | None = None) -> dict:
    """Start a private 3-broker / 3-node cluster (unless ``settings`` already point at a cluster of 3
    brokers), run every worker count on the same streams, then the churn run; write scaling.json + .md."""
    live = sorted(k for k, v in ds.streams().items() if v and v[0].domain == "live")
    ids = [live[i % len(live)] for i in range(streams)]
    stamp = time.strftime("%H%M%S")
    cluster = None
    if settings.kafka_brokers < 3:
        root = cluster_root or Path(tempfile.mkdtemp(prefix="ampere-scaling-"))
        cluster = LocalCluster(settings, root)
        console.print(f"starting 3 brokers and 3 Weaviate nodes under {root} ...")
        cluster.start()
        console.print(f"cluster ready in {cluster.start_s:.0f}s")
        settings = cluster.client_settings(settings)
    log_dir = settings.home / "logs" / "scaling"
    log_dir.mkdir(parents=True, exist_ok=True)
    rows, pauses, error = [], [], None
    try:
        for n in worker_counts:
            console.rule(f"{n} worker(s), {streams} streams at {speed:g}x")
            run = Run.create(settings, f"{stamp}w{n}", log_dir)
            try:
                rows.append(asyncio.run(measure(run, ds, ids, speed, f"w{n}", n, console)))
            finally:
                run.stop()
        if churn_rounds:
            console.rule(f"churn: 2 workers, a third joins, one leaves ({streams} streams x {churn_rounds} rounds)")
            run = Run.create(settings, f"{stamp}churn", log_dir)
            try:
                pauses = asyncio.run(churn(run, ds, ids, speed, "churn", churn_rounds, console))
            finally:
                run.stop()
    except Exception as exc:  # noqa: BLE001 - the rows measured so far are written, with why the run stopped
        error = f"{type(exc).__name__}: {exc}"
        console.print(f"[red]stopped: {error}[/]")
    finally:
        if cluster is not None:
            cluster.stop()
    result = {
        "shape": f"{settings.kafka_brokers} brokers (RF {settings.topic_replication_factor}, min ISR "
                 f"{settings.topic_min_insync_replicas}), {settings.weaviate_nodes} Weaviate nodes (RF "
                 f"{settings.weaviate_replication_factor}, {settings.weaviate_consistency}), {PARTITIONS} partitions",
        "engines": {"summarizer": settings.summarizer, "encoder": settings.encoder_engine,
                    "two_phase": getattr(settings, "two_phase", None)},
        "cores": os.cpu_count(), "rows": rows, "rebalance": pauses, "stopped": error,
    }
    write_results(result, out_dir)
    console.print((out_dir / "scaling.md").read_text())
    return result


def _f(x: object, digits: int = 2) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{x:.{digits}f}" if isinstance(x, float) else str(x)


def write_results(result: dict, out_dir: Path) -> None:
    """scaling.json + scaling.md."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "scaling.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    lines = [
        f"# Scaling on the cluster shape: {result['shape']}",
        "",
        f"Engines: {result['engines']}; {result['cores']} cores shared by every broker, node, worker and the replay.",
        "",
        ("| workers | streams | speed | windows | windows/s | first-queryable p50 / p99 s | worker CPU s "
        "| busy cores | windows/s per busy core | dead letters | load (1 min) |"),
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        *[f"| {r['workers']} | {r['streams']} | {r['speed']:g}x | {r['windows']} | {_f(r['windows_per_s'])} "
          f"| {_f(r['queryable_p50_s'])} / {_f(r['queryable_p99_s'])} | {_f(r['worker_cpu_s'], 1)} "
          f"| {_f(r['busy_cores'])} | {_f(r['windows_per_busy_core_s'])} | {r['dead_letters']} "
          f"| {_f(r['load_avg_1m_end'], 1)} |" for r in result["rows"]],
        "",
        ("Rebalance pause (from the membership change until a window closes again / is queryable again on a "
        "partition that changed owner; the usual gap is the median time between closes on those partitions before):"),
        "",
        "| change | moved partitions | window stage pause s | queryable pause s | usual gap s |",
        "| --- | --- | --- | --- | --- |",
        *[f"| {p['change']} | {p['moved_partitions']} | {_f(p['window_stage_pause_s'])} | {_f(p['queryable_pause_s'])} "
          f"| {_f(p['usual_gap_s'])} |" for p in result["rebalance"]],
        "",
        *([f"The run stopped early: {result['stopped']}", ""] if result.get("stopped") else []),
    ]
    (out_dir / "scaling.md").write_text("\n".join(lines))
