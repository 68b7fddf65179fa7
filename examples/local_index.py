"""Keep a local copy of the Ampere index in SQLite, in sync with the `ampere.embeddings` topic.

    python examples/local_index.py --db index.sqlite --group my-copy
    python examples/local_index.py --db index.sqlite --group my-copy --idle-exit 10   # catch up, then exit

Kafka's address and security come from the same AMPERE_KAFKA_* settings as the worker's (bootstrap,
security protocol, SASL user and password, CA file). Run it again with the same --group and it resumes where it stopped (committed offsets). Each object is
kept at its newest revision: a replayed or older record never overwrites a newer one, so the copy is
the same however often records are delivered. On exit it prints one JSON line of counts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
from pathlib import Path

from streams.kafka import KafkaSource
from streams.kafka.topics import TopicNames
from streams.sdk.subscribe import Update, follow
from streams.settings import get_settings

SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    object_id TEXT PRIMARY KEY,
    revision INTEGER NOT NULL,
    kind TEXT NOT NULL,
    stream_id TEXT,
    product_id TEXT,
    start_ms INTEGER,
    end_ms INTEGER,
    model_version TEXT,
    vector BLOB NOT NULL,
    sentence TEXT
)
"""


def apply(db: sqlite3.Connection, u: Update) -> str:
    """Store one update; returns "applied", "stale" (an equal or newer revision is stored) or "ignored"."""
    v = u.value
    if u.object_id is None or u.vector is None:
        return "ignored"
    row = db.execute("SELECT revision FROM objects WHERE object_id = ?", (u.object_id,)).fetchone()
    if row is not None and row[0] >= u.revision:
        return "stale"
    window = v.get("window") or [None, None]
    db.execute(
        "INSERT OR REPLACE INTO objects VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (u.object_id, u.revision, v.get("kind"), v.get("stream_id"), v.get("product_id"), window[0], window[1],
         v.get("model_version"), u.vector.tobytes(), (v.get("summary") or {}).get("sentence")),
    )
    db.commit()  # stored before the offset is committed: at-least-once, and the revision rule makes it exact
    return "applied"


async def sync(db_path: Path, topic: str, kafka: KafkaSource, group: str, idle_exit: float | None) -> dict:
    db = sqlite3.connect(db_path)
    db.execute(SCHEMA)
    counts = {"applied": 0, "stale": 0, "ignored": 0}
    async with follow(topic, kafka, group=group, idle_timeout_s=idle_exit) as updates:
        async for u in updates:
            counts[apply(db, u)] += 1
        counts["duplicates_skipped"] = updates.skipped
    counts["objects"] = db.execute("SELECT COUNT(*) FROM objects").fetchone()[0]
    db.close()
    return counts


def main() -> None:
    s = get_settings()
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", type=Path, required=True, help="SQLite file of the local copy.")
    ap.add_argument("--group", default="local-index", help="Kafka consumer group (resume point).")
    ap.add_argument("--topic", default=TopicNames(s.topic_prefix).embeddings)
    ap.add_argument("--bootstrap", default=s.kafka_bootstrap, help="Kafka bootstrap servers (AMPERE_KAFKA_BOOTSTRAP).")
    ap.add_argument("--idle-exit", type=float, default=None, help="Exit after this many quiet seconds.")
    a = ap.parse_args()
    kafka = s.model_copy(update={"kafka_bootstrap": a.bootstrap})
    print(json.dumps(asyncio.run(sync(a.db, a.topic, kafka, a.group, a.idle_exit))))


if __name__ == "__main__":
    main()
