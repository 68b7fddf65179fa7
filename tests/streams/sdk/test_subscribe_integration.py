"""The subscriber SDK and the local-index example on a real Kafka broker."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest

from streams.kafka import KafkaConfig, async_producer
from streams.kafka.admin import ensure_topics
from streams.sdk.subscribe import follow
from streams.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "local_index.py"


def embedding(oid: str, seed: int, revision: int | None = None) -> bytes:
    v = np.random.default_rng(seed).standard_normal(8)
    rec = {"v": 1, "object_id": oid, "kind": "live", "stream_id": "s", "window": [0, 10_000],
           "model_version": "m", "vector": [float(x) for x in v / np.linalg.norm(v)], "indexed_at": 1.0}
    if revision is not None:
        rec["revision"] = revision
    return json.dumps(rec).encode()


async def produce(bootstrap: str, topic: str, values: list[bytes]) -> None:
    p = async_producer(KafkaConfig(bootstrap), acks="all")
    await p.start()
    try:
        for v in values:
            await p.send_and_wait(topic, v, key=b"s")  # one key: one partition, so order is kept
    finally:
        await p.stop()


def run_example(bootstrap: str, topic: str, db: Path, group: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, str(EXAMPLE), "--db", str(db), "--group", group, "--topic", topic,
         "--bootstrap", bootstrap, "--idle-exit", "3"],
        check=False, env=env, capture_output=True, text=True, timeout=120, cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_local_index_example_resumes_and_keeps_the_newest_revision(kafka_bootstrap, tmp_path) -> None:
    topic = f"sub{uuid.uuid4().hex[:8]}.embeddings"
    ensure_topics(Settings(kafka_bootstrap=kafka_bootstrap), [topic], 2)
    db, group = tmp_path / "copy.sqlite", "copy-1"
    asyncio.run(produce(kafka_bootstrap, topic, [
        embedding("A", 1), embedding("B", 2), embedding("A", 1),  # A again: a replayed duplicate
        embedding("A", 3, revision=2), b"{broken",
    ]))
    first = run_example(kafka_bootstrap, topic, db, group)
    assert first == {"applied": 3, "stale": 0, "ignored": 1, "duplicates_skipped": 1, "objects": 2}
    rows = dict(sqlite3.connect(db).execute("SELECT object_id, revision FROM objects").fetchall())
    assert rows == {"A": 2, "B": 1}
    vec = np.frombuffer(sqlite3.connect(db).execute("SELECT vector FROM objects WHERE object_id='A'").fetchone()[0],
                        dtype=np.float32)
    assert np.allclose(vec, np.asarray(json.loads(embedding("A", 3))["vector"], dtype=np.float32))

    asyncio.run(produce(kafka_bootstrap, topic, [embedding("C", 4), embedding("A", 1, revision=1)]))
    second = run_example(kafka_bootstrap, topic, db, group)
    # resumed after the committed offsets: only the two new records are seen; the late older A is refused
    assert second == {"applied": 1, "stale": 1, "ignored": 0, "duplicates_skipped": 0, "objects": 3}
    third = run_example(kafka_bootstrap, topic, db, group)
    assert third["applied"] == third["stale"] == 0


def test_follow_from_end_sees_only_new_records_and_from_beginning_all(kafka_bootstrap) -> None:
    topic = f"sub{uuid.uuid4().hex[:8]}.tags"
    ensure_topics(Settings(kafka_bootstrap=kafka_bootstrap), [topic], 2)

    async def run() -> tuple[list, list]:
        await produce(kafka_bootstrap, topic, [embedding("old", 1)])
        async with follow(topic, KafkaConfig(kafka_bootstrap), start="end", idle_timeout_s=2) as live:
            await produce(kafka_bootstrap, topic, [embedding("new", 2)])
            seen_live = [u.object_id async for u in live]
        async with follow(topic, KafkaConfig(kafka_bootstrap), start="beginning", idle_timeout_s=2) as everything:
            seen_all = [u.object_id async for u in everything]
        return seen_live, seen_all

    seen_live, seen_all = asyncio.run(run())
    assert seen_live == ["new"]
    assert seen_all == ["old", "new"]
