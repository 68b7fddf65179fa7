"""What the cluster chaos test drives besides the nodes: the ingest gateway as a process, broadcasters
that send streams through it over HTTP, the broker that leads the most input partitions, and the
first-queryable latency of each fault phase."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from streams.kafka.topics import TopicNames
from streams.sdk.publish import Outgoing
from tooling.demo import percentile

ROOT = Path(__file__).resolve().parents[1]
PATHS = {"asr.chunks": "asr", "keyframes": "keyframes", "stream.events": "events"}


# --- the gateway ----------------------------------------------------------------------------------


class Gateway:
    """``python -m streams.gateway`` on a loopback port, logging to a file."""

    def __init__(self, env: dict[str, str], port: int, log: Path) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        with log.open("ab") as fh:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "streams.gateway"], env={**env, "AMPERE_INGEST_PORT": str(port)},
                stdout=fh, stderr=subprocess.STDOUT, cwd=ROOT,
            )

    def wait_ready(self, timeout_s: float = 300.0) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the gateway never became ready"
            time.sleep(0.5)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


# --- broadcasters ---------------------------------------------------------------------------------


@dataclass
class Sent:
    """What the broadcasters sent: messages per stream, requests answered, retries (503 / no answer)."""

    streams: dict[str, list[Outgoing]] = field(default_factory=dict)
    accepted: int = 0
    retried: int = 0
    last_sent: dict[str, float] = field(default_factory=dict)


def gateway_path(topic: str, topics: TopicNames) -> str:
    """The gateway route of a message of ``topic`` (asr, keyframes or events)."""
    return PATHS[topic.removeprefix(topics.prefix + ".")]


async def broadcast(
    client: httpx.AsyncClient, url: str, sid: str, messages: Sequence[Outgoing], topics: TopicNames,
    sent: Sent, *, speed: float, retry_for_s: float = 120.0,
) -> None:
    """Send one stream's messages through the gateway on its own clock (``speed`` x real time), each
    one until the gateway acknowledged it (202), as a broadcaster retries a 503 or a dropped request."""
    t0 = time.monotonic()
    first = messages[0].ts_ms
    for m in messages:
        wait = (m.ts_ms - first) / 1000 / speed - (time.monotonic() - t0)
        if wait > 0:
            await asyncio.sleep(wait)
        deadline = time.monotonic() + retry_for_s
        while True:
            try:
                r = await client.post(f"{url}/v1/streams/{sid}/{gateway_path(m.topic, topics)}", content=m.value,
                                      headers={"content-type": "application/json"})
                if r.status_code == 202:
                    break
                assert r.status_code in (429, 503), f"{r.status_code} {r.text}"
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"{sid}: the gateway refused a message for {retry_for_s:.0f}s"
            sent.retried += 1
            await asyncio.sleep(0.5)
        sent.accepted += 1
        sent.last_sent[sid] = time.time()


# --- the broker to kill ---------------------------------------------------------------------------


def busiest_leader(partitions: Iterable[dict]) -> tuple[int, int]:
    """(node id, partitions it leads) of the node leading the most of ``partitions`` (kafka-python's
    ``describe_topics`` partition dicts); ties go to the lowest node id."""
    counts = Counter(p["leader_id"] for p in partitions if p.get("leader_id", -1) >= 0)
    node, n = min(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return node, n


# --- first-queryable latency per phase ------------------------------------------------------------


@dataclass
class Phases:
    """Named wall-clock marks: a phase lasts from its mark to the next one."""

    marks: list[tuple[str, float]] = field(default_factory=list)

    def mark(self, name: str) -> None:
        self.marks.append((name, time.time()))

    def of(self, t: float) -> str | None:
        """The phase that wall time ``t`` falls into (None before the first mark)."""
        name = None
        for n, at in self.marks:
            if t < at:
                break
            name = n
        return name


def latency_by_phase(embeddings: Sequence[dict], phases: Phases) -> list[dict]:
    """First-queryable seconds (indexed_at - closed_at of revision 1) per phase of the window's close,
    in phase order: windows, p50, p99, max."""
    lags: dict[str, list[float]] = {name: [] for name, _ in phases.marks}
    for e in embeddings:
        if e.get("revision", 1) != 1 or not e.get("closed_at") or not e.get("indexed_at"):
            continue
        name = phases.of(e["closed_at"])
        if name is not None:
            lags[name].append(e["indexed_at"] - e["closed_at"])
    rows = []
    for (name, at), nxt in zip(phases.marks, [*phases.marks[1:], (None, None)], strict=True):
        v = lags[name]
        rows.append({
            "phase": name, "from_s": round(at - phases.marks[0][1], 1),
            "to_s": round(nxt[1] - phases.marks[0][1], 1) if nxt[1] else None, "windows": len(v),
            "p50_s": round(percentile(v, 50), 2) if v else None, "p99_s": round(percentile(v, 99), 2) if v else None,
            "max_s": round(max(v), 2) if v else None,
        })
    return rows


def write_chaos_results(result: dict, folder: Path) -> None:
    """``chaos.json`` and ``chaos.md`` (the counts and the latency table) under ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "chaos.json").write_text(json.dumps(result, indent=2) + "\n")
    c = result["counts"]
    lines = [
        "# Cluster chaos test",
        "",
        f"{result['shape']}; {c['streams']} streams through the gateway over HTTP; command: `{result['command']}`",
        "",
        ("| expected | indexed | lost | duplicated | wrong boundaries | embeddings on the topic (missing) "
        "| dead letters | committed lag | gateway retries |"),
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        (f"| {c['expected']} | {c['indexed']} | {c['lost']} | {c['duplicated']} | {c['wrong']} "
        f"| {c['embedded']} ({c['embeddings_missing']}) | {c['dead_letters']} | {c['committed_lag']} | {c['gateway_retries']} |"),
        "",
        "First-queryable latency (indexed_at - closed_at, revision 1) of the windows closed in each phase:",
        "",
        "| phase | from s | to s | windows | p50 s | p99 s | max s |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        *[f"| {r['phase']} | {r['from_s']} | {r['to_s'] if r['to_s'] is not None else 'end'} | {r['windows']} "
          f"| {r['p50_s']} | {r['p99_s']} | {r['max_s']} |" for r in result["phases"]],
        "",
        "Fault steps (seconds from the first mark): "
        + ", ".join(f"{k} {v}" for k, v in result["steps_s"].items()),
        "",
    ]
    (folder / "chaos.md").write_text("\n".join(lines))
