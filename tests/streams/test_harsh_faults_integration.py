"""The harsh scenario (``harsh_scenario``: switches, skewed producers, a camera that is off, keyframes near
the size limit, bad inputs) on the real broker and Weaviate, with and without a stalled worker.

The stall is SIGSTOP for three idle periods while the broadcasters go on, then SIGCONT: the worker wakes
up with records queued and a wall clock that says every stream went quiet. Every window must come out
whole (the offline reference, computed with the worker's pure functions), and the only dead letters are
the contract-breaking inputs, matched by their SHA-256.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from pathlib import Path

import pytest

from streams.kafka.admin import ensure_topics
from streams.kafka.topics import TopicNames, window_group
from streams.ops.counters import read_all
from streams.sdk.publish import replay
from streams.worker.window_stage import counters_path
from tests.streams.harsh_scenario import harsh_scenario, unexpected_dead_letters
from tests.streams.mini_dataset import make_mini_dataset
from tests.streams.test_faults_integration import (
    Workers,
    _committed_lag,
    _settings,
    _tally,
    _wait_members,
)
from tests.streams.test_pipeline_integration import _store, timeline_windows
from tooling.demo import Subscriber

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

STREAMS = 5  # one of each shape
REPLAY_S = 30.0
STALL_IDLE_PERIODS = 3


@pytest.mark.parametrize("fault", ["none", "worker_sigstop"])
def test_harsh_scenario_loses_no_window_and_dead_letters_only_bad_inputs(
    fault: str, private_kafka, private_weaviate, isolated_settings, tmp_path: Path
) -> None:
    t_start = time.time()
    settings = _settings(isolated_settings, private_kafka, private_weaviate).model_copy(update={"window_max_open": 4})
    topics = TopicNames(settings.topic_prefix)
    sc = harsh_scenario(make_mini_dataset(tmp_path / "data", seed=13), topics, STREAMS,
                        max_image_bytes=settings.max_image_bytes)
    expected = timeline_windows(sc.good, settings)
    ensure_topics(settings, topics.all(), settings.topic_partitions)
    store = _store(settings)
    workers = Workers(settings, tmp_path)
    worker = workers.spawn()
    timeline = sc.timeline
    speed = timeline[-1][0] / 1000 / REPLAY_S
    stalled: dict[str, float] = {}

    async def stall() -> None:
        await asyncio.sleep(REPLAY_S / 3)
        os.kill(worker.pid, signal.SIGSTOP)
        t0 = time.time()
        try:
            await asyncio.sleep(STALL_IDLE_PERIODS * settings.idle_close_ms / 1000)
        finally:
            os.kill(worker.pid, signal.SIGCONT)
        stalled["stalled_s"] = round(time.time() - t0, 1)

    async def run() -> Subscriber:
        sub = Subscriber(settings, topics)
        await sub.start()
        await _wait_members(settings, window_group(settings.topic_prefix), 1)
        faults = [asyncio.create_task(stall())] if fault == "worker_sigstop" else []
        await replay(settings, timeline, speed=speed)
        await asyncio.gather(*faults)
        await sub.wait_done(settle_s=6, timeout_s=300, alive=workers.alive)
        await sub.stop()
        return sub

    try:
        sub = asyncio.run(run())
        lag = asyncio.run(_committed_lag(settings))
    finally:
        workers.stop()
    counters = {k: v for k, v in read_all(counters_path(settings).parent).items() if v}
    unexpected = unexpected_dead_letters(sub.report.dlq, [m.value for _, m in sc.bad])
    row = {
        "scenario": "harsh", "fault": fault, "streams": sc.shapes, **_tally(store, expected),
        "dead_letters": len(sub.report.dlq), "dead_letters_expected": len(sc.bad), "unexpected_dead_letters": unexpected,
        "committed_lag": lag, **stalled, "counters": counters, "runtime_s": round(time.time() - t_start, 1),
    }
    print("FAULT-RESULT " + json.dumps(row))
    store.drop()
    store.close()
    assert not unexpected, row
    assert (row["lost"], row["duplicated"], row["wrong"]) == (0, 0, 0), row
    assert lag == 0, row
