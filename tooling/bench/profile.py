"""`ampere bench profile`: a saturated worker under py-spy, and where a window's time goes.

The freshness benchmark runs one configuration while py-spy samples the worker process it starts
(``--threads --idle``, collapsed stacks plus a flame graph SVG). :func:`breakdown` turns the collapsed
stacks into a cost table per window: each sample goes to the first category (in :data:`CATEGORIES`
order) that one of its frames matches, so a JSON encode inside a Weaviate upsert counts as the upsert
and a base64 decode inside a window's encoder input counts as base64. Samples of the event-loop thread
parked in ``select`` are "waiting"; idle samples of any other thread (pools, the image-fetch loop,
client threads) are left out, since an idle pool thread costs nothing.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

_FN = r"^(?:[\w<>]+\.)*"  # py-spy names a method ``Class.method`` (nested: ``f.<locals>.g``)
#: (category, regex over one frame ``function (file:line)``), first match wins.
CATEGORIES: tuple[tuple[str, str], ...] = (
    ("Weaviate upsert", _FN + r"(upsert|revisions) \(engines/store/weaviate_store\.py"),
    ("tag search", _FN + r"(near_vectors|near_vector|search_products|search_index|rerank_by_attributes) \("),
    ("ONNX image encode", _FN + r"(image_tokens|run_image|preprocess_images) \("),
    ("ONNX text encode", _FN + r"(text_tokens|run_text) \("),
    ("ONNX fusion", _FN + r"run_fusion \("),
    ("image decode", _FN + r"(decode_image|decode_images|check_pixel_budget|image_size) \(streams/keyframes\.py"),
    ("keyframe choice", _FN + r"(make_candidate|select_keyframes|sharpness|color_histogram) \("),
    ("base64", r"\(base64\.py:"),
    ("JSON encode", r"\(json/encoder\.py:|" + _FN + r"(dump_record|encode_state|to_dict|model_dump_json|model_dump) \("),
    ("JSON parse", r"\(json/decoder\.py:|" + _FN + r"(parse_record|parse_input|from_dict|model_validate|model_validate_json) \("),
    ("window state machine", r"\(streams/(worker/)?(windowing|ingest)\.py:"),
    ("Kafka produce/consume", r"\((aiokafka|kafka|faust|mode)/"),
    ("Weaviate client", r"\((weaviate|grpc|httpx|httpcore)/"),
)
#: Leaf frames of a thread that waits (no CPU): selectors, locks, queues, sleeps.
IDLE_LEAF = re.compile(_FN + r"(select|poll|epoll|wait|_wait|_wait_for_tstate_lock|sleep|acquire|get|_worker|"
                       r"run_forever|_run_once|serve_forever) \(")
WAITING = "waiting (event loop idle)"
OTHER = "other"
_COMPILED = tuple((name, re.compile(rx)) for name, rx in CATEGORIES)
_THREAD = re.compile(r"^(thread|process) \(")


@dataclass(frozen=True)
class Stack:
    """One collapsed stack: thread label, frames root → leaf, sample count."""

    thread: str
    frames: tuple[str, ...]
    count: int


def parse_collapsed(lines: Iterable[str]) -> list[Stack]:
    """py-spy ``--format raw`` lines (``f1;f2;...;leaf N``), the leading ``thread (0x..)`` /
    ``process N:...`` frames taken as the thread label."""
    out = []
    for line in lines:
        line = line.rstrip("\n")
        if not line.strip():
            continue
        body, _, n = line.rpartition(" ")
        if not body or not n.isdigit():
            continue
        frames = body.split(";")
        label = []
        while frames and _THREAD.match(frames[0]):
            label.append(frames.pop(0))
        out.append(Stack(";".join(label), tuple(frames), int(n)))
    return out


def is_idle(stack: Stack) -> bool:
    """True when the stack's leaf is a wait (the thread holds no CPU)."""
    return bool(stack.frames) and bool(IDLE_LEAF.match(stack.frames[-1]))


def is_loop_thread(thread: str) -> bool:
    """The worker's event loop runs on its main thread (py-spy labels it ``MainThread``)."""
    return "MainThread" in thread


def categorize(stack: Stack) -> str:
    """The first category one of the frames matches (scanned by category order), else ``other``."""
    for name, rx in _COMPILED:
        if any(rx.search(f) for f in stack.frames):
            return name
    return OTHER


def breakdown(stacks: list[Stack], rate_hz: float, windows: int, wall_s: float | None = None) -> dict:
    """Samples per category → CPU seconds, ms per window and share of the CPU samples, plus the
    event loop's waiting time. Idle samples of threads other than the event loop are dropped."""
    cpu: Counter[str] = Counter()
    waiting = 0
    idle_other = 0
    for s in stacks:
        if is_idle(s):
            if is_loop_thread(s.thread):
                waiting += s.count
            else:
                idle_other += s.count
            continue
        cpu[categorize(s)] += s.count
    total = sum(cpu.values())
    per_window = max(1, windows)
    rows = [
        {"category": name, "samples": n, "cpu_s": n / rate_hz, "ms_per_window": 1000 * n / rate_hz / per_window,
         "share": n / total if total else 0.0}
        for name, n in sorted(cpu.items(), key=lambda kv: -kv[1])
    ]
    return {
        "rows": rows,
        "cpu_samples": total,
        "cpu_s": total / rate_hz,
        "cpu_ms_per_window": 1000 * total / rate_hz / per_window,
        "waiting_samples": waiting,
        "waiting_s": waiting / rate_hz,
        "idle_other_samples": idle_other,
        "windows": windows,
        "rate_hz": rate_hz,
        "wall_s": wall_s,
    }


def table(result: dict, title: str) -> list[str]:
    """Markdown lines of a :func:`breakdown`."""
    lines = [(f"{title}: {result['windows']} windows, {result['cpu_s']:.1f} CPU s sampled "
             f"({result['cpu_ms_per_window']:.1f} ms per window); event loop waiting {result['waiting_s']:.1f} s."), "",
             "| cost | CPU s | ms / window | share of CPU |", "| --- | ---: | ---: | ---: |"]
    for r in result["rows"]:
        lines.append(f"| {r['category']} | {r['cpu_s']:.1f} | {r['ms_per_window']:.2f} | {100 * r['share']:.1f} % |")
    return lines


# ---------------------------------------------------------------------------------------------- recording
def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            return [int(x) for x in fh.read().split()]
    except OSError:
        return []


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


class WorkerSampler:
    """Waits for this process's ``-m streams worker`` child and runs py-spy on it (raw + SVG)."""

    def __init__(self, out_dir: Path, rate_hz: int = 50, parent: int | None = None) -> None:
        import os

        self.out_dir, self.rate_hz = out_dir, rate_hz
        self.parent = parent or os.getpid()
        self.procs: list[subprocess.Popen] = []
        self._stop = threading.Event()
        self.ready = threading.Event()  # set once the worker answers /readyz
        self.started_at: float | None = None
        self._thread = threading.Thread(target=self._watch, name="profile-watch", daemon=True)
        self.py_spy = shutil.which("py-spy") or str(Path(__import__("sys").executable).with_name("py-spy"))

    def start(self) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.is_set():
            for pid in _children(self.parent):
                if "streams worker" in _cmdline(pid):
                    self.ready.wait()  # past the model loads: sample the steady state
                    self.started_at = time.time()
                    self._record(pid)
                    return
            time.sleep(0.2)

    def _record(self, pid: int) -> None:
        common = ["record", "--pid", str(pid), "--rate", str(self.rate_hz), "--threads", "--idle", "--nonblocking"]
        for fmt, name in (("raw", "worker.collapsed.txt"), ("flamegraph", "worker.svg")):
            self.procs.append(subprocess.Popen(  # argv[0] plain "py-spy": the SVG title shows the command line
                ["py-spy", *common, "--format", fmt, "-o", str(self.out_dir / name)], executable=self.py_spy,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

    def stop(self) -> None:
        """py-spy stops by itself when the worker exits; wait for it to write its files."""
        self._stop.set()
        for p in self.procs:
            try:
                p.wait(60)
            except subprocess.TimeoutExpired:
                p.terminate()


# ---------------------------------------------------------------------------------------------- the run
def run_profile(settings, ds, stream_count: int, speed: float, console, out_dir: Path, rate_hz: int = 50) -> dict:
    """One freshness configuration with the worker under py-spy; writes ``profile.json``/``profile.md``,
    the collapsed stacks and the flame graph under ``out_dir``."""
    import asyncio
    import os

    from tooling.demo import run_replay, summarize_report

    live = sorted(k for k, v in ds.streams().items() if v and v[0].domain == "live")
    ids = [live[i % len(live)] for i in range(stream_count)]
    from tooling.dashboard.launch import wait_http
    from tooling.infra.ports import free_port

    settings = settings.model_copy(update={"metrics_port": free_port()})
    sampler = WorkerSampler(out_dir, rate_hz)
    sampler.start()

    def arm() -> None:
        try:
            wait_http(f"http://127.0.0.1:{settings.metrics_port}/readyz", 600)
        finally:
            sampler.ready.set()

    threading.Thread(target=arm, daemon=True).start()
    t0 = time.time()
    try:
        rep = asyncio.run(run_replay(settings, ds, ids, speed=speed, console=console,
                                     worker_log=settings.home / "logs" / "worker-profile.log", load_catalog=False,
                                     live_lines=False, run_tag=f"{time.strftime('%Y%m%d%H%M%S')}p{stream_count}-"))
    finally:
        sampler.stop()
    res = summarize_report(rep)
    res["load_avg_1m_end"] = os.getloadavg()[0]
    raw = out_dir / "worker.collapsed.txt"
    stacks = parse_collapsed(raw.read_text().splitlines()) if raw.exists() else []
    since = sampler.started_at or t0
    indexed = len({e["object_id"] for e in rep.embeddings if e.get("revision", 1) == 1 and e.get("indexed_at", 0) >= since})
    windows = max(indexed, int(rep.loss.get("windows_closed", 0)))  # windows the stage closed, indexed or not
    result = breakdown(stacks, rate_hz, windows, time.time() - since)
    result.update(windows_indexed=indexed, windows_closed=rep.loss.get("windows_closed"))
    result.update(streams=stream_count, speed=speed, freshness={k: v for k, v in res.items() if k != "mean_stage_s"})
    (out_dir / "profile.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    lines = table(result, f"Worker profile, {stream_count} streams at {speed:g}x ({settings.summarizer} summarizer)")
    lines += ["", (f"{res['windows_per_s']:.2f} windows/s; close→first queryable p50 / p99 "
              f"{res['queryable_p50_s']:.2f} / {res['queryable_p99_s']:.2f} s; load (1 min) {res['load_avg_1m_end']:.1f}.")]
    (out_dir / "profile.md").write_text("\n".join(lines) + "\n")
    console.print("\n".join(lines))
    return result
