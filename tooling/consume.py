"""Tooling side: read output topics (embeddings, tags, dlq) from now on or from the beginning, without a
consumer group (demo, benchmarks, tests). Subscribers use the public SDK, ``streams.sdk.subscribe.follow``."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from streams.kafka import KafkaSource
from streams.sdk.subscribe import follow as subscribe


async def follow(
    kafka: KafkaSource,
    topic: str,
    *,
    from_beginning: bool = False,
    idle_timeout_s: float | None = None,
    ready: asyncio.Event | None = None,
) -> AsyncIterator[dict]:
    """Yield decoded JSON records of a topic as they arrive (no group, no de-duplication); stop after
    ``idle_timeout_s`` of silence. ``ready`` is set once the start positions are fixed: records sent
    after that are all seen. The SDK's subscription underneath, so there is one topic follower."""
    start = "beginning" if from_beginning else "end"
    async with subscribe(topic, kafka, start=start, dedupe=False, idle_timeout_s=idle_timeout_s) as updates:
        if ready is not None:
            ready.set()
        async for u in updates:
            yield {"undecodable": True, "offset": u.offset, "partition": u.partition} if u.undecodable else u.value


def spawn_worker(env: dict[str, str], log_path: Path) -> subprocess.Popen:
    """Start ``ampere worker`` as a child process logging to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as fh:  # the child keeps its own copy of the descriptor
        return subprocess.Popen([sys.executable, "-m", "streams", "worker"], env=env, stdout=fh, stderr=subprocess.STDOUT)


def tail_line(rec: dict, keep: int = 4) -> str:
    """One record as one JSON line, every vector (``vector`` and each of ``branches``) cut to its
    first ``keep`` numbers and ``"..."``."""

    def short(v: object) -> object:
        return v[:keep] + ["..."] if isinstance(v, list) and len(v) > keep else v

    out = dict(rec)
    if "vector" in out:
        out["vector"] = short(out["vector"])
    if isinstance(out.get("branches"), dict):
        out["branches"] = {k: short(v) for k, v in out["branches"].items()}
    return json.dumps(out, ensure_ascii=False)

