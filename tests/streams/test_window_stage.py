"""The window stage's commit protocol and idle clock, with in-memory stand-ins for the Kafka clients."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace

from aiokafka import TopicPartition
from aiokafka.errors import KafkaConnectionError

from streams.counters import LossCounters
from streams.settings import Settings
from streams.window_stage import PartitionClock, WindowStage

S = Settings(topic_prefix="t", window_ms=10_000, hop_ms=10_000, grace_ms=1_000, idle_close_ms=500,
             window_sources_live="asr", window_tick_ms=100)
ASR, EV = TopicPartition("t.asr.chunks", 0), TopicPartition("t.stream.events", 0)


class Producer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None, int | None]] = []

    async def send(self, topic, value, key=None, partition=None):
        self.sent.append((topic, value, partition))
        fut = asyncio.get_running_loop().create_future()
        fut.set_result(None)
        return fut


class Consumer:
    def __init__(self, producer: Producer) -> None:
        self.producer, self.seeks, self.commits = producer, [], []
        self.ends: dict | None = None

    def seek(self, tp, offset) -> None:
        self.seeks.append((tp, offset))

    async def commit(self, offsets) -> None:
        self.commits.append((dict(offsets), len(self.producer.sent)))

    async def end_offsets(self, tps):
        if self.ends is None:
            raise KafkaConnectionError("broker down")
        return {tp: self.ends.get(tp, 0) for tp in tps}


def stage(home) -> WindowStage:
    st = WindowStage(S.model_copy(update={"home": home}), counters=LossCounters())
    st.producer = Producer()
    st.consumer = Consumer(st.producer)
    st.states, st.clocks = {0: {}}, {0: PartitionClock()}
    st.next = {ASR: 0, EV: 0}
    st._committed = dict(st.next)
    return st


def rec(offset: int, seq: int, ts: int, sid: str = "s") -> SimpleNamespace:
    value = {"stream_id": sid, "seq": seq, "start_ms": ts, "end_ms": ts + 500, "text": f"c{seq}"}
    return SimpleNamespace(offset=offset, timestamp=offset, key=sid.encode(), value=json.dumps(value).encode())


def topics_sent(st: WindowStage) -> list[str]:
    return [t.rsplit(".", 1)[-1] for t, _, _ in st.producer.sent]


def test_commit_follows_the_sends_and_covers_only_processed_offsets(tmp_path) -> None:
    st = stage(tmp_path)
    asyncio.run(st._process({ASR: [rec(0, 0, 0), rec(1, 1, 12_000)]}))
    assert topics_sent(st) == ["windows", "window-state"]  # window out first, then the state
    assert st.consumer.commits == [({ASR: 2}, 2)]
    assert st.states[0]["s"].offsets == {"asr": 1}


def test_an_offset_jump_seeks_back_and_is_not_committed_past(tmp_path) -> None:
    st = stage(tmp_path)
    asyncio.run(st._process({ASR: [rec(0, 0, 0), rec(5, 1, 1_000)]}))
    assert st.consumer.seeks == [(ASR, 1)] and st.next[ASR] == 1
    assert st.consumer.commits[-1][0] == {ASR: 1}
    assert st.counters.get("offset_gaps_sought_back") == 1 and st.counters.get("offsets_skipped") == 0
    asyncio.run(st._process({ASR: [rec(5, 1, 1_000)]}))  # the same jump after seeking: a hole in the log
    assert st.counters.get("offsets_skipped") == 4 and st.next[ASR] == 6


def test_records_fetched_again_change_nothing(tmp_path) -> None:
    st = stage(tmp_path)
    asyncio.run(st._process({ASR: [rec(0, 0, 0), rec(1, 1, 1_000)]}))
    before = json.dumps(st.states[0]["s"].to_dict())
    st.next[ASR] = 0  # fetched again after a rebalance
    asyncio.run(st._process({ASR: [rec(0, 0, 0), rec(1, 1, 1_000)]}))
    assert json.dumps(st.states[0]["s"].to_dict()) == before
    assert st.counters.get("records_replayed") == 2 and not any("dlq" in t for t in topics_sent(st))


def test_idle_check_from_outside_goes_to_the_dlq(tmp_path) -> None:
    st = stage(tmp_path)
    asyncio.run(st._process({ASR: [rec(0, 0, 0)]}))
    bad = SimpleNamespace(offset=0, timestamp=0, key=b"s", value=b'{"stream_id": "s", "ts_ms": 99000, "type": "idle_check"}')
    asyncio.run(st._process({EV: [bad]}))
    dl = [json.loads(v) for t, v, _ in st.producer.sent if t.endswith("dlq")]
    assert len(dl) == 1 and "internal event" in dl[0]["reason"] and dl[0]["offset"] == 0
    assert st.next[EV] == 1 and st.states[0]["s"].windows


def test_idle_clock_stops_while_the_broker_is_unreachable_or_input_unread(tmp_path) -> None:
    st = stage(tmp_path)
    asyncio.run(st._process({ASR: [rec(0, 0, 0)]}))

    async def ticks(n: int) -> None:
        for _ in range(n):
            await asyncio.sleep(0.05)
            await st._tick()

    st.consumer.ends = None  # broker down for 1 s: twice the idle time, no close
    asyncio.run(ticks(20))
    assert st.states[0]["s"].windows and st.counters.get("idle_closes") == 0
    st.consumer.ends = {ASR: 5, EV: 0}  # reachable, but 4 records not read yet
    asyncio.run(ticks(20))
    assert st.states[0]["s"].windows and st.clocks[0].now < 0.2
    st.consumer.ends = {ASR: 1, EV: 0}  # caught up: the stream is quiet for real
    asyncio.run(ticks(20))
    assert not st.states[0]["s"].windows and st.counters.get("idle_closes") == 1
    assert topics_sent(st)[-2:] == ["windows", "window-state"]


def test_assignment_resumes_at_the_committed_offset_not_the_prefetch_position(tmp_path) -> None:
    """The fetcher may have prefetched records when partitions are assigned: its position() is past them."""
    st = stage(tmp_path)
    st.next, st._committed = {}, {}

    class Assigning(Consumer):
        async def position(self, tp):
            return 1  # what aiokafka reports once it prefetched offset 0

        async def committed(self, tp):
            return {EV: 7}.get(tp)

        async def beginning_offsets(self, tps):
            return {tp: 0 for tp in tps}

    class Reader:
        def assign(self, tps): ...

        async def seek_to_beginning(self, *tps): ...

        async def end_offsets(self, tps):
            return {tp: 0 for tp in tps}

    st.consumer, st.reader = Assigning(st.producer), Reader()
    asyncio.run(st.on_assigned({ASR, EV}))
    assert st.next == {ASR: 0, EV: 7}
    assert sorted(st.consumer.seeks, key=str) == sorted([(ASR, 0), (EV, 7)], key=str)


def test_a_switch_fetched_after_its_content_is_applied_in_time_order(tmp_path) -> None:
    """The topics of one batch come in any order; the switch (record time between the 2nd and 3rd chunk)
    must split the windows as if it had been read in the order it was sent."""
    st = stage(tmp_path)
    chunks = [rec(i, i, ts) for i, ts in enumerate((0, 4_000, 6_000, 9_000, 16_000, 30_000))]
    for c, t in zip(chunks, (10, 20, 30, 40, 50, 60)):
        c.timestamp = t
    switch = SimpleNamespace(offset=0, timestamp=25, key=b"s",
                             value=b'{"stream_id": "s", "ts_ms": 5000, "type": "product_switch", "product_hint": "b"}')
    asyncio.run(st._process({ASR: chunks, EV: [switch]}))
    closed = [json.loads(v) for t, v, _ in st.producer.sent if t.endswith(".windows")]
    assert (0, 5_000) in {(w["start_ms"], w["end_ms"]) for w in closed}, closed
