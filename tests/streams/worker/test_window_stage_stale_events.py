"""A product switch is acknowledged before the content after it is sent, but the window stage reads the
events topic and the content topics from different leaders: the content can be applied before the
switch is fetched. Closing on the watermark then dead-lettered the switch as late and the window was
never split (the cluster chaos test after a broker SIGKILL; the harsh scenario on the cluster under
load, where a fetch answer's high watermark, written by the events leader before the switch and
processed after the content was created, passed for read to the end). Closes now wait for an
end-offset probe *sent* after the content was created (plus the clock skew allowed)."""

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


def closed(st) -> set[tuple[int, int]]:
    return {(w["start_ms"], w["end_ms"]) for w in sent(st, ".windows")}


def test_a_fetch_answer_processed_after_the_content_was_created_does_not_count_as_read_to_the_end(tmp_path) -> None:
    now = time.time() * 1000
    st = stage(tmp_path)
    st._probe_sent_ms = now - 2_000  # the last probe is older than the content
    st.consumer.high, st.consumer.polled = {EV: 0}, {EV: now}  # an answer written before the switch, processed now
    st.consumer.ends = {ASR: 5, EV: 1}  # what the broker holds: the switch
    asyncio.run(st._process({ASR: [chunk(i, ts, now - 1_000 + i) for i, ts in enumerate(CONTENT)]}))
    assert not sent(st, ".windows"), "closed before the switch acknowledged ahead of its content was read"
    asyncio.run(st._tick())  # a probe sent now sees the switch unread: still held
    assert not sent(st, ".windows")
    asyncio.run(st._process({EV: [switch(now - 1_500)]}))
    assert not sent(st, "dlq"), sent(st, "dlq")
    assert (0, 5_000) in closed(st), closed(st)


def test_a_probe_sent_after_the_content_was_created_releases_the_held_closes(tmp_path) -> None:
    now = time.time() * 1000
    st = stage(tmp_path)
    st._probe_sent_ms = now - 2_000
    st.consumer.ends = {ASR: 2, EV: 0}  # no switch: the events partition is read to its end
    asyncio.run(st._process({ASR: [chunk(0, 0, now - 900), chunk(1, 12_000, now - 800)]}))
    assert closed(st) == {(0, 10_000)}  # the batch probed at once (its content is older than the skew allowed)


def test_content_newer_than_the_clock_skew_waits_for_the_next_tick(tmp_path) -> None:
    st = stage(tmp_path.joinpath("a"))
    now = time.time() * 1000
    st._probe_sent_ms = now - 2_000
    st.consumer.ends = {ASR: 2, EV: 0}
    asyncio.run(st._process({ASR: [chunk(0, 0, now), chunk(1, 12_000, now + 1)]}))
    assert not closed(st)  # a probe sent now might miss a switch acknowledged by a producer whose clock runs ahead
    time.sleep((st.settings.window_clock_skew_ms + 20) / 1000)
    st._last_tick = 0.0
    asyncio.run(st._tick())
    assert closed(st) == {(0, 10_000)}


def test_an_events_partition_never_probed_since_the_assignment_holds_the_close(tmp_path) -> None:
    now = time.time() * 1000
    st = stage(tmp_path)
    st._probe_ends = {}
    asyncio.run(st._process({ASR: [chunk(0, 0, now - 900), chunk(1, 12_000, now - 800)]}))
    assert not sent(st, ".windows")
