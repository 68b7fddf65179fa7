"""A product switch on an events partition whose leader died: the content after it comes from the other
topics' leaders while this consumer still knows the events partition's high watermark from before the
failover. Closing on the watermark then dead-lettered the switch as late (the cluster chaos test, broker
SIGKILL). An events partition not fetched lately counts as unread, so the closes wait for it."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

from streams.window_stage import EVENTS_STALE_S
from tests.streams.test_window_stage import ASR, EV, rec, sent, stage

CONTENT = (0, 4_000, 6_000, 9_000, 12_000)


def switch() -> SimpleNamespace:
    return SimpleNamespace(offset=0, timestamp=25, key=b"s",
                           value=b'{"stream_id": "s", "ts_ms": 5000, "type": "product_switch", "product_hint": "b"}')


def test_an_events_partition_not_fetched_lately_holds_the_close_until_its_switch_is_read(tmp_path) -> None:
    st = stage(tmp_path)
    st.consumer.high = {EV: 0}  # as of the last fetch, before the leader died: nothing unread
    st.consumer.polled = {EV: time.time() * 1000 - 3 * EVENTS_STALE_S * 1000}
    asyncio.run(st._process({ASR: [rec(i, i, ts) for i, ts in enumerate(CONTENT)]}))
    assert not sent(st, ".windows"), "closed on the watermark while the events partition was out of reach"
    st.consumer.high, st.consumer.polled = {EV: 1}, {}  # the new leader answers: the switch is there
    asyncio.run(st._process({EV: [switch()]}))
    assert not sent(st, "dlq"), sent(st, "dlq")
    closed = {(w["start_ms"], w["end_ms"]) for w in sent(st, ".windows")}
    assert (0, 5_000) in closed, closed


def test_a_freshly_fetched_events_partition_at_its_end_holds_nothing(tmp_path) -> None:
    st = stage(tmp_path)
    st.consumer.high = {EV: 0}
    st.consumer.polled = {EV: time.time() * 1000 - 100}
    asyncio.run(st._process({ASR: [rec(0, 0, 0), rec(1, 1, 12_000)]}))
    assert [(w["start_ms"], w["end_ms"]) for w in sent(st, ".windows")] == [(0, 10_000)]


def test_an_events_partition_never_fetched_since_the_assignment_holds_the_close(tmp_path) -> None:
    st = stage(tmp_path)
    st.consumer.polled = {EV: None}
    asyncio.run(st._process({ASR: [rec(0, 0, 0), rec(1, 1, 12_000)]}))
    assert not sent(st, ".windows")
