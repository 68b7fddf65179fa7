"""Unit tests of the replay timeline built from a dataset."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from encoders.dataset import AsrChunk, Dataset, Keyframe, MomentRecord, ProductRecord
from streams.kafka.topics import TopicNames
from streams.sdk.publish import merge_streams, product_message, stream_messages

T = TopicNames("x")


def _dataset(tmp_path) -> Dataset:
    (tmp_path / "images").mkdir()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(tmp_path / "images" / "a.jpg")
    moments = [
        MomentRecord("m1", "live", "s1", "p1", [AsrChunk(0, 900, "hello"), AsrChunk(1000, 1900, "shirt")], [Keyframe(500, "images/a.jpg")]),
        MomentRecord("m2", "live", "s1", "p2", [AsrChunk(2000, 2900, "bag")], [Keyframe(2500, "images/a.jpg")]),
    ]
    return Dataset(tmp_path, [ProductRecord("p1", "Shirt", images=["images/a.jpg"])], moments)


def test_stream_messages_order_and_markers(tmp_path) -> None:
    ds = _dataset(tmp_path)
    msgs = stream_messages(ds, "s1", ds.streams()["s1"], T)
    kinds = [(m.topic, json.loads(m.value).get("type")) for m in msgs]
    assert kinds[0] == (T.events, "start") and kinds[-1] == (T.events, "end")
    assert (T.events, "product_switch") in kinds
    seqs = [json.loads(m.value)["seq"] for m in msgs if m.topic == T.asr]
    assert seqs == [0, 1, 2]
    assert all(m.key == b"s1" for m in msgs)
    assert [m.ts_ms for m in msgs] == sorted(m.ts_ms for m in msgs)
    switch = next(json.loads(m.value) for m in msgs if m.topic == T.events and json.loads(m.value)["type"] == "product_switch")
    assert switch["product_hint"] is None  # ground truth never leaks into the stream


def test_rename_and_merge(tmp_path) -> None:
    ds = _dataset(tmp_path)
    a = stream_messages(ds, "s1", ds.streams()["s1"], T, rename="s1#0")
    b = stream_messages(ds, "s1", ds.streams()["s1"], T, rename="s1#1")
    merged = merge_streams([a, b])
    assert len(merged) == len(a) + len(b)
    assert [t for t, _ in merged] == sorted(t for t, _ in merged)
    assert {m.key for _, m in merged} == {b"s1#0", b"s1#1"}


def test_product_message_inlines_photos(tmp_path) -> None:
    ds = _dataset(tmp_path)
    m = product_message(ds, ds.products[0], T)
    body = json.loads(m.value)
    assert m.key == b"p1" and len(body["images_b64"]) == 1 and body["title"] == "Shirt"


def test_start_marker_carries_the_domain(tmp_path) -> None:
    ds = _dataset(tmp_path)
    video = [MomentRecord("v1", "video", "vid", "p1", [AsrChunk(0, 900, "tote")], [Keyframe(100, "images/a.jpg")])]
    start = json.loads(stream_messages(ds, "vid", video, T)[0].value)
    assert start["type"] == "start" and start["domain"] == "video"


def test_a_stream_started_later_keeps_its_event_times_and_only_moves_in_the_timeline(tmp_path) -> None:
    ds = _dataset(tmp_path)
    a = stream_messages(ds, "s1", ds.streams()["s1"], T)
    b = stream_messages(ds, "s1", ds.streams()["s1"], T, rename="s2")
    together = merge_streams([a, b])
    later = merge_streams([a, b], starts_ms=[0, 1500])
    assert next(t for t, m in together if m.key == b"s2") == 0
    assert [t for t, m in later if m.key == b"s2"] == [t + 1500 for t, m in together if m.key == b"s2"]
    assert [t for t, _ in later] == sorted(t for t, _ in later)
    assert {m.value for _, m in later} == {m.value for _, m in together}  # the records themselves are unchanged
    with pytest.raises(ValueError, match="1 start offsets for 2 streams"):
        merge_streams([a, b], starts_ms=[0])


def test_replay_waits_for_each_broadcaster_event_before_sending_what_follows(monkeypatch) -> None:
    """The harsh scenario on 3 brokers: a switch sent without waiting sat queued behind large keyframes on
    its leader and reached the log after the content it splits (dead-lettered as late)."""
    import asyncio

    from streams.sdk import publish

    topics = TopicNames("t")
    log: list[tuple[str, str, bool]] = []  # (what, topic, switch acknowledged at that moment)

    class SlowProducer:
        def __init__(self) -> None:
            self.futures: list[asyncio.Future] = []
            self.topics: list[str] = []

        async def start(self) -> None: ...

        async def stop(self) -> None: ...

        async def send(self, topic, value, key=None):
            acked = all(f.done() for f, t in zip(self.futures, self.topics) if t == topics.events)
            log.append(("send", topic, acked))
            fut = asyncio.get_running_loop().create_future()
            asyncio.get_running_loop().call_later(0.05, fut.set_result, None)  # the broker answers later
            self.futures.append(fut)
            self.topics.append(topic)
            return fut

    monkeypatch.setattr(publish, "async_producer", lambda kafka, linger_ms=5: SlowProducer())
    msgs = [publish.Outgoing(0, 0, topics.asr, b"s", b"a"), publish.Outgoing(1, 1, topics.events, b"s", b"switch"),
            publish.Outgoing(2, 2, topics.asr, b"s", b"b"), publish.Outgoing(3, 3, topics.keyframes, b"s", b"c")]
    assert asyncio.run(publish.replay(None, [(m.ts_ms, m) for m in msgs], speed=0)) == 4
    assert [t for _, t, _ in log] == [topics.asr, topics.events, topics.asr, topics.keyframes]
    assert [acked for _, _, acked in log[2:]] == [True, True], log
