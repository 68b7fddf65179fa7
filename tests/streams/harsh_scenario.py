"""A fault scenario unlike the sample's replay: many product switches at uneven times, producers that
send one source late, a camera that is off, keyframes near the image size limit, and inputs that break
the contract (whose dead letters are the only ones expected).

Shapes, one per stream, cycled:
- ``interleaved``: every source sent at its event time;
- ``asr_first``: keyframes sent ``skew_ms`` after their event time (a video path slower than speech);
- ``keyframes_first``: ASR sent ``skew_ms`` late (a recognizer that lags the camera);
- ``camera_off``: speech only, long enough that open windows exceed ``window_max_open`` and the state
  budget closes the oldest (reason ``budget``);
- ``large_keyframes``: every keyframe padded (JPEG comment segments) to just under ``max_image_bytes``.

A stream's ``end`` event is sent after its last record, whatever the shape. The bad inputs ride on the
same partitions: a truncated JSON chunk, a chunk whose text is a number, a keyframe whose bytes are not
an image.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field, replace
from itertools import cycle

from encoders.dataset import AsrChunk, Dataset, Keyframe, MomentRecord
from streams.kafka.topics import TopicNames
from streams.schemas import KeyframeRecord, dump_record
from streams.sdk.publish import Outgoing, merge_streams, stream_messages

SHAPES = ("interleaved", "asr_first", "keyframes_first", "camera_off", "large_keyframes")
SEGMENT_MS = (6_000, 14_000, 9_000, 12_000, 7_000)  # product segments of uneven length


@dataclass
class Scenario:
    """The merged timeline of good records, the contract-breaking ones sent among them, and each
    stream's shape."""

    good: list[tuple[int, Outgoing]]
    bad: list[tuple[int, Outgoing]]
    shapes: dict[str, str] = field(default_factory=dict)

    @property
    def timeline(self) -> list[tuple[int, Outgoing]]:
        """Everything, in send order."""
        return sorted(self.good + self.bad, key=lambda x: (x[0], x[1].order))


def segment(m: MomentRecord, offset_ms: int, length_ms: int) -> MomentRecord:
    """``m``'s first ``length_ms`` of speech and frames, moved to start at ``offset_ms``."""
    t0 = min([c.start_ms for c in m.asr] + [k.ts_ms for k in m.keyframes])
    asr = [AsrChunk(c.start_ms - t0 + offset_ms, c.end_ms - t0 + offset_ms, c.text, c.lang)
           for c in m.asr if c.end_ms - t0 <= length_ms]
    frames = [Keyframe(k.ts_ms - t0 + offset_ms, k.path) for k in m.keyframes if k.ts_ms - t0 < length_ms]
    return replace(m, asr=asr, keyframes=frames)


def moments_of(ds: Dataset, n: int, start: int) -> list[MomentRecord]:
    """``n`` product segments taken round-robin from the live moments, of uneven lengths."""
    live = [m for m in ds.moments if m.domain == "live"]
    out, t = [], 0
    for i in range(n):
        length = SEGMENT_MS[(start + i) % len(SEGMENT_MS)]
        out.append(segment(live[(start + i) % len(live)], t, length))
        t += length
    return out


def padded_jpeg(data: bytes, size: int) -> bytes:
    """``data`` (a JPEG) grown to ``size`` bytes with comment segments after its SOI marker."""
    assert data[:2] == b"\xff\xd8" and size >= len(data)
    pad, need = bytearray(), size - len(data)
    while need >= 4:
        body = min(need - 4, 65_533)
        pad += b"\xff\xfe" + (body + 2).to_bytes(2, "big") + b"\x00" * body
        need -= body + 4
    return data[:2] + bytes(pad) + data[2:]


def _shaped(msgs: list[Outgoing], shape: str, topics: TopicNames, skew_ms: int, image_bytes: int) -> list[Outgoing]:
    """The messages of one stream as its producer sends them (send time ``ts_ms``), ``end`` last."""
    out = []
    for m in msgs:
        if shape == "camera_off" and m.topic == topics.keyframes:
            continue
        if shape == "asr_first" and m.topic == topics.keyframes or shape == "keyframes_first" and m.topic == topics.asr:
            m = replace(m, ts_ms=m.ts_ms + skew_ms)
        if shape == "large_keyframes" and m.topic == topics.keyframes:
            rec = json.loads(m.value)
            big = padded_jpeg(base64.b64decode(rec["image_b64"]), image_bytes)
            m = replace(m, value=dump_record(KeyframeRecord(**{**rec, "image_b64": base64.b64encode(big).decode()})))
        out.append(m)
    *body, end = sorted(out, key=lambda m: (json.loads(m.value).get("type") == "end", m.ts_ms, m.order))
    assert json.loads(end.value).get("type") == "end"
    last = max(m.ts_ms for m in body)
    return sorted([*body, replace(end, ts_ms=max(end.ts_ms, last + 1))])


def bad_inputs(sid: str, at_ms: int, event_ms: int, topics: TopicNames) -> list[Outgoing]:
    """Three records that break the contract, for stream ``sid``: sent at ``at_ms``, dated ``event_ms``."""
    key = sid.encode()
    not_an_image = KeyframeRecord(stream_id=sid, ts_ms=event_ms, image_b64=base64.b64encode(b"not an image" * 50).decode())
    return [
        Outgoing(at_ms, 10_000, topics.asr, key, b'{"stream_id": "' + key + b'", "seq": 99999, "start_ms": 1, "te'),
        Outgoing(at_ms, 10_001, topics.asr, key, json.dumps(
            {"stream_id": sid, "seq": 99998, "start_ms": event_ms, "end_ms": event_ms + 1, "text": 12345}).encode()),
        Outgoing(at_ms, 10_002, topics.keyframes, key, dump_record(not_an_image)),
    ]


def harsh_scenario(
    ds: Dataset, topics: TopicNames, n_streams: int, *, segments: int = 5, skew_ms: int = 8_000,
    max_image_bytes: int = 2_000_000, stagger_ms: int = 3_000, prefix: str = "harsh",
) -> Scenario:
    """``n_streams`` streams of ``segments`` product segments each, shapes cycled, started ``stagger_ms``
    apart; every third stream also carries the three bad inputs half-way."""
    streams, bad, shapes = [], [], {}
    for i, shape in zip(range(n_streams), cycle(SHAPES)):
        sid = f"{prefix}-{i}-{shape}"
        n = segments * 2 if shape == "camera_off" else segments  # long enough for budget closes
        msgs = stream_messages(ds, sid, moments_of(ds, n, start=i), topics, rename=sid)
        streams.append(_shaped(msgs, shape, topics, skew_ms, int(max_image_bytes * 0.95)))
        shapes[sid] = shape
    starts = [i * stagger_ms for i in range(n_streams)]
    good = merge_streams(streams, starts)
    for i in range(0, n_streams, 3):
        sid = next(s for s in shapes if s.startswith(f"{prefix}-{i}-"))
        event_ms = SEGMENT_MS[0] * segments // 2
        bad += [(starts[i] + event_ms, m) for m in bad_inputs(sid, starts[i] + event_ms, event_ms, topics)]
    return Scenario(good, bad, shapes)


def unexpected_dead_letters(dlq: list[dict], bad_values: list[bytes]) -> list[str]:
    """Reasons of the dead letters that are not one of the contract-breaking inputs (each expected once)."""
    left = [hashlib.sha256(v).hexdigest() for v in bad_values]
    out = []
    for d in dlq:
        if d.get("value_sha256") in left:
            left.remove(d["value_sha256"])
        else:
            out.append(f"{d.get('topic')}: {d.get('reason')}")
    return out + [f"missing dead letter {h[:12]}" for h in left]
