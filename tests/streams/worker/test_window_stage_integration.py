"""The window stage on the real broker: restore from the changelog, replays recognized, commits = processed."""

from __future__ import annotations

import asyncio
import base64
import io
import json

import pytest
from aiokafka import TopicPartition
from PIL import Image

from streams.kafka import KafkaConfig, async_consumer, async_producer, group_lag_async
from streams.kafka.admin import ensure_topics
from streams.kafka.topics import TopicNames
from streams.kafka.topics import window_group as group_id
from streams.ops.counters import LossCounters
from streams.worker.window_stage import WindowStage
from tooling.consume import follow

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def _png() -> str:
    buf = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 30, 30)).save(buf, "PNG")
    return base64.b64encode(buf.getvalue()).decode()


def _messages(t: TopicNames, sid: str) -> list[tuple[str, bytes, bytes]]:
    """All ASR chunks first, then all keyframes (a batch uploader); the last window closes on idle."""
    out = [(t.asr, sid, {"stream_id": sid, "seq": i, "start_ms": i * 1_000, "end_ms": i * 1_000 + 900, "text": f"w{i}"})
           for i in range(25)]
    out += [(t.keyframes, sid, {"stream_id": sid, "ts_ms": ts, "image_b64": _png()}) for ts in range(500, 25_000, 4_000)]
    return [(topic, k.encode(), json.dumps(v).encode()) for topic, k, v in out]


async def _send(kafka: KafkaConfig, msgs) -> None:
    p = async_producer(kafka)
    await p.start()
    try:
        for topic, key, value in msgs:
            await p.send_and_wait(topic, value, key=key)
    finally:
        await p.stop()


async def _windows(bootstrap: str, t: TopicNames) -> list[tuple[str, int, int]]:
    recs = [r async for r in follow(KafkaConfig(bootstrap), t.windows, from_beginning=True, idle_timeout_s=2)]
    return sorted((r["stream_id"], r["start_ms"], r["end_ms"]) for r in recs)


async def _run_until(stage: WindowStage, done) -> None:
    task = asyncio.create_task(stage.run())
    try:
        for _ in range(300):
            await asyncio.sleep(0.5)
            assert not task.done(), task.exception()
            if await done():
                return
        raise AssertionError("the stage did not finish in time")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def test_stage_windows_commits_and_replays_on_the_real_broker(kafka_bootstrap: str, isolated_settings) -> None:
    s = isolated_settings(weaviate=False, topic_partitions=2, window_ms=10_000, hop_ms=10_000, grace_ms=1_000,
                          idle_close_ms=1_000, end_settle_ms=500, window_tick_ms=100)
    t = TopicNames(s.topic_prefix)
    inputs = [t.asr, t.keyframes, t.events]
    ensure_topics(s, t.all(), s.topic_partitions)
    msgs = _messages(t, "a") + _messages(t, "b")
    want = sorted((sid, a, a + 10_000) for sid in "ab" for a in (0, 10_000, 20_000))

    async def scenario() -> tuple[list, list, LossCounters]:
        await _send(KafkaConfig(kafka_bootstrap), msgs)
        first = LossCounters()

        async def all_windows() -> bool:
            return await group_lag_async(KafkaConfig(kafka_bootstrap), group_id(s.topic_prefix), inputs) == 0 and len(
                await _windows(kafka_bootstrap, t)) >= len(want)

        await _run_until(WindowStage(s, first), all_windows)
        got = await _windows(kafka_bootstrap, t)
        assert first.get("records_applied") == len(msgs) and first.get("dead_letters") == 0
        # rewind the group's committed offsets to 0: a second stage must restore the state and recognize replays
        c = async_consumer(KafkaConfig(kafka_bootstrap), group_id=group_id(s.topic_prefix), enable_auto_commit=False)
        await c.start()
        tps = [TopicPartition(topic, p) for topic in inputs for p in range(s.topic_partitions)]
        c.assign(tps)
        await c.commit({tp: 0 for tp in tps})
        await c.stop()
        second = LossCounters()

        async def replayed() -> bool:  # applied and committed (the counters move before the commit)
            return second.get("records_replayed") == len(msgs) and await group_lag_async(
                KafkaConfig(kafka_bootstrap), group_id(s.topic_prefix), inputs) == 0

        await _run_until(WindowStage(s, second), replayed)
        return got, await _windows(kafka_bootstrap, t), second

    got, again, second = asyncio.run(scenario())
    assert got == want, "ASR first, then keyframes: every window, each once"
    assert again == want, "the replay re-sent no window"
    assert second.get("records_applied") == 0 and second.get("rebalances") == 1
    assert asyncio.run(group_lag_async(KafkaConfig(kafka_bootstrap), group_id(s.topic_prefix), inputs)) == 0


def test_an_emoji_flood_on_one_stream_does_not_wedge_the_others(kafka_bootstrap: str, isolated_settings) -> None:
    """100 ASR chunks of 4,000 emoji each (all within the ASR limit) on one stream, a canary stream on the
    same partition: the flood's state record once outgrew the message limit and stopped every stream."""
    s = isolated_settings(weaviate=False, topic_partitions=1, window_ms=10_000, hop_ms=10_000, grace_ms=1_000,
                          idle_close_ms=1_000, window_sources_live="asr", window_tick_ms=100)
    t = TopicNames(s.topic_prefix)
    inputs = [t.asr, t.keyframes, t.events]
    ensure_topics(s, t.all(), s.topic_partitions)
    flood = [(t.asr, b"flood", json.dumps({"stream_id": "flood", "seq": i, "start_ms": i * 200, "end_ms": i * 200 + 150,
                                           "text": "\U0001F600" * 4_000}).encode()) for i in range(100)]
    canary = [(t.asr, b"canary", json.dumps({"stream_id": "canary", "seq": i, "start_ms": i * 1_000,
                                             "end_ms": i * 1_000 + 900, "text": f"c{i}"}).encode()) for i in range(25)]

    async def scenario() -> tuple[list, list[int], list[dict], LossCounters]:
        await _send(KafkaConfig(kafka_bootstrap), flood + canary)
        counters = LossCounters()

        async def done() -> bool:
            wins = await _windows(kafka_bootstrap, t)
            return await group_lag_async(KafkaConfig(kafka_bootstrap), group_id(s.topic_prefix), inputs) == 0 and len(wins) >= 5

        await _run_until(WindowStage(s, counters), done)
        sizes = []
        c = async_consumer(KafkaConfig(kafka_bootstrap), auto_offset_reset="earliest")
        await c.start()
        try:
            tp = TopicPartition(f"{s.topic_prefix}.window-state", 0)
            c.assign([tp])
            end = (await c.end_offsets([tp]))[tp]
            while await c.position(tp) < end:
                for msgs in (await c.getmany(tp, timeout_ms=1_000)).values():
                    sizes += [len(m.value) for m in msgs if m.value]
        finally:
            await c.stop()
        dlq = [r async for r in follow(KafkaConfig(kafka_bootstrap), t.dlq, from_beginning=True, idle_timeout_s=2)]
        return await _windows(kafka_bootstrap, t), sizes, dlq, counters

    windows, sizes, dlq, counters = asyncio.run(scenario())
    assert [w for w in windows if w[0] == "canary"] == [("canary", a, a + 10_000) for a in (0, 10_000, 20_000)]
    assert [w for w in windows if w[0] == "flood"] == [("flood", 0, 10_000), ("flood", 10_000, 20_000)]
    assert sizes and max(sizes) < s.max_message_bytes // 2, max(sizes)
    assert len(dlq) == 92 and all("window budget" in d["reason"] for d in dlq)
    assert counters.get("over_budget") == 92 and counters.get("windows_closed") == 5


def test_inputs_repartitioned_without_the_changelog_are_refused_with_the_way_out(isolated_settings) -> None:
    """Raising the partitions of the inputs alone left the state of stream s on changelog partition p while
    its records moved to another partition: restored nowhere, and its windows cut anew."""
    from kafka.admin import NewPartitions

    from streams.kafka import admin_client
    from streams.worker.window_stage import PartitionsDisagree, ensure_changelog

    settings = isolated_settings(weaviate=False, topic_partitions=2)
    t = TopicNames(settings.topic_prefix)
    ensure_topics(settings, [t.asr, t.keyframes, t.events], 2)
    ensure_changelog(settings, t)  # created alike: fine
    admin = admin_client(settings)
    try:
        admin.create_partitions({t.asr: NewPartitions(4), t.keyframes: NewPartitions(4), t.events: NewPartitions(4)})
    finally:
        admin.close()
    with pytest.raises(PartitionsDisagree, match=r"window-state: 2.*drain first"):
        ensure_changelog(settings, t)
