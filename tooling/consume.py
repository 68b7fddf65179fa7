"""Tooling side: read output topics (embeddings, tags, dlq) from now on or from the beginning, without a
consumer group (demo, benchmarks, tests). Subscribers use the public SDK, ``streams.subscribe.follow``."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition

from streams.kafka_conn import KafkaTarget, aiokafka_options


async def follow(
    bootstrap: KafkaTarget,
    topic: str,
    *,
    from_beginning: bool = False,
    idle_timeout_s: float | None = None,
    ready: asyncio.Event | None = None,
) -> AsyncIterator[dict]:
    """Yield decoded JSON records of a topic as they arrive; stop after ``idle_timeout_s`` of silence.

    ``ready`` is set once the start positions are fixed: records sent after that are all seen.
    """
    consumer = AIOKafkaConsumer(**aiokafka_options(bootstrap), enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        cluster = await consumer._client.fetch_all_metadata()  # fresh metadata, not the cached subset
        parts = cluster.partitions_for_topic(topic)
        if not parts:
            raise RuntimeError(f"topic {topic} does not exist (is the worker set up with the same prefix?)")
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        if from_beginning:
            await consumer.seek_to_beginning(*tps)
        else:
            await consumer.seek_to_end(*tps)
            for tp in tps:  # resolve the position now, so nothing sent after this call is missed
                await consumer.position(tp)
        if ready is not None:
            ready.set()
        while True:
            batch = await consumer.getmany(timeout_ms=int((idle_timeout_s or 1.0) * 1000))
            if not batch:
                if idle_timeout_s is not None:
                    return
                continue
            for msgs in batch.values():
                for m in msgs:
                    try:
                        yield json.loads(m.value)
                    except (TypeError, ValueError):
                        yield {"undecodable": True, "offset": m.offset, "partition": m.partition}
    finally:
        await consumer.stop()


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

