"""A product switch is acknowledged before the content after it is sent, but the window stage reads the
events topic and the content topics from different leaders: the content can be applied while the
events partition's high watermark is from a fetch answered before the switch (its leader died or moved,
or under load its answer is queued behind the content's). Closing on the watermark then dead-lettered
the switch as late (the cluster chaos test, after a broker SIGKILL and restart). The watermark counts
only when it was fetched after the newest content of the batch was created."""

from __future__ import annotations

import asyncio
import json
import time
from types import SimpleNamespace

from tests.streams.worker.test_window_stage import ASR, EV, sent, stage

CONTENT = (0, 4_000, 6_000, 9_000, 12_000)


def chunk(offset: int, ts: int, created_ms: float) -> SimpleNamespace:
    value = {"stream_id": "s", "seq": offset, "start_ms": ts, "end_ms": ts + 500, "text": f"c{offset}"}
    return SimpleNamespace(offset=offset, timestamp=int(created_ms), key=b"s", value=json.dumps(value).encode())


def switch(created_ms: float) -> SimpleNamespace:
    return SimpleNamespace(offset=0, timestamp=int(created_ms), key=b"s",
                           value=b'{"stream_id": "s", "ts_ms": 5000, "type": "product_switch", "product_hint": "b"}')


def test_content_created_after_the_last_events_fetch_holds_the_close_until_the_switch_is_read(tmp_path) -> None:
    now = time.time() * 1000
    st = stage(tmp_path)
    st.consumer.high = {EV: 0}  # as of a fetch answered before the switch was written
    st.consumer.polled = {EV: now - 2_000}
    asyncio.run(st._process({ASR: [chunk(i, ts, now - 1_000 + i) for i, ts in enumerate(CONTENT)]}))
    assert not sent(st, ".windows"), "closed on a watermark read before the content was created"
    st.consumer.high, st.consumer.polled = {EV: 1}, {EV: now}  # the next fetch brings the switch
    asyncio.run(st._process({EV: [switch(now - 1_500)]}))
    assert not sent(st, "dlq"), sent(st, "dlq")
    closed = {(w["start_ms"], w["end_ms"]) for w in sent(st, ".windows")}
    assert (0, 5_000) in closed, closed


def test_a_watermark_fetched_after_the_content_was_created_holds_nothing(tmp_path) -> None:
    now = time.time() * 1000
    st = stage(tmp_path)
    st.consumer.high = {EV: 0}
    st.consumer.polled = {EV: now - 100}
    asyncio.run(st._process({ASR: [chunk(0, 0, now - 900), chunk(1, 12_000, now - 800)]}))
    assert [(w["start_ms"], w["end_ms"]) for w in sent(st, ".windows")] == [(0, 10_000)]


def test_an_events_partition_never_fetched_since_the_assignment_holds_the_close(tmp_path) -> None:
    now = time.time() * 1000
    st = stage(tmp_path)
    st.consumer.polled = {EV: None}
    asyncio.run(st._process({ASR: [chunk(0, 0, now - 900), chunk(1, 12_000, now - 800)]}))
    assert not sent(st, ".windows")
