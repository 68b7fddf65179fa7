"""What the dashboard shows, built from the topics' records: a pure, bounded, in-memory view.

Each ``on_*`` method takes one decoded record and returns the update to push to browsers (or None);
``snapshot()`` is the whole view for a page that just opened. The view does not depend on the order
records arrive in: after a restart the followers replay each topic's history side by side, so
recency comes from the records' own times and a window's close, index and tag times are joined by
window, whichever record comes first. Thumbnails are kept apart, as JPEG bytes, and named by URL.
"""

from __future__ import annotations

import base64
import hashlib
import io
import math
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, UnidentifiedImageError

from streams.kafka.topics import TopicNames

WindowKey = tuple[str, int, int]
#: Topic name endings of the inputs (broadcasters and the catalog), whatever the prefix.
INPUT_SUFFIXES = tuple(t.removeprefix("_") for t in TopicNames("_").inputs())
TEXT_CHARS = 280


def thumbnail(image_b64: str, size: int = 160) -> bytes | None:
    """A small JPEG of a base64 image (None when it does not decode)."""
    try:
        img = Image.open(io.BytesIO(base64.b64decode(image_b64)))
        img = img.convert("RGB")
        img.thumbnail((size, size))
    except (ValueError, OSError, UnidentifiedImageError):
        return None
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=75)
    return buf.getvalue()


def thumb_id(*parts: object) -> str:
    """A short stable name for the thumbnail of a product or a window."""
    return hashlib.blake2s("\x00".join(map(str, parts)).encode(), digest_size=10).hexdigest()


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no values."""
    if not values:
        return None
    s = sorted(values)
    return s[max(0, min(len(s) - 1, math.ceil(q / 100 * len(s)) - 1))]


def is_input_topic(topic: str | None) -> bool:
    """Whether a dead letter came from an input topic (bad input) rather than an internal one."""
    return bool(topic) and topic.endswith(INPUT_SUFFIXES)


class Thumbs:
    """JPEG thumbnails by id; the least recently stored are dropped beyond ``capacity``."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.items: OrderedDict[str, bytes] = OrderedDict()

    def put(self, tid: str, jpeg: bytes | None) -> None:
        if jpeg is None:
            return
        self.items[tid] = jpeg
        self.items.move_to_end(tid)
        while len(self.items) > self.capacity:
            self.items.popitem(last=False)

    def get(self, tid: str) -> bytes | None:
        return self.items.get(tid)

    def url(self, tid: str) -> str | None:
        """Where the page loads the thumbnail (None when there is none)."""
        return f"/thumbs/{tid}.jpg" if tid in self.items else None


@dataclass
class WindowJoin:
    """What is known of one window from the three topics, in whatever order they came."""

    closed_at: float | None = None
    tagged_at: float | None = None
    text: str = ""
    indexed: bool = False
    tagged: bool = False
    tag_sampled: bool = False


@dataclass
class DeadLetters:
    """Dead letters of one class: count, recent times, last reasons."""

    total: int = 0
    times: deque[float] = field(default_factory=lambda: deque(maxlen=10_000))
    last: list[dict[str, Any]] = field(default_factory=list)

    def add(self, topic: str | None, reason: str, at: float) -> None:
        self.total += 1
        self.times.append(at)
        self.last = ([{"topic": topic, "reason": reason}] + self.last)[:5]

    def view(self, now: float, window_s: float) -> dict[str, Any]:
        recent = sum(1 for t in self.times if now - t <= window_s)
        return {"total": self.total, "per_min": recent * 60.0 / window_s, "last": self.last}


@dataclass
class WindowView:
    """One window of a stream as the page shows it."""

    stream_id: str
    start_ms: int
    end_ms: int
    domain: str = "live"
    object_id: str | None = None
    sentence: str = ""
    product_name: str = ""
    text: str = ""
    summary_source: str = ""
    closed_at: float | None = None
    queryable_s: float | None = None
    products: list[dict[str, Any]] = field(default_factory=list)
    claimed: bool | None = None
    revision: int = 0
    tag_revision: int = 0


class DashboardState:
    """Streams (most recent first, by their records' times) with their latest windows, thumbnails,
    freshness and dead letters (input apart from internal)."""

    def __init__(self, max_streams: int = 24, windows_per_stream: int = 6, freshness_samples: int = 500,
                 dlq_window_s: float = 60.0, max_thumbs: int = 2000, max_joins: int = 5000,
                 segments_per_stream: int = 12, seller: str | None = None) -> None:
        self.max_streams, self.windows_per_stream = max_streams, windows_per_stream
        self.segments_per_stream = segments_per_stream
        self.seller = seller or None  # a seller's dashboard: every other seller's record is dropped on arrival
        self.segments: dict[str, dict[str, dict[str, Any]]] = {}  # stream id -> segment id -> newest revision
        self.dlq_window_s, self.max_joins = dlq_window_s, max_joins
        self.streams: dict[str, dict[tuple[int, int], WindowView]] = {}
        self.stream_at: dict[str, float] = {}
        self.catalog: dict[str, str] = {}  # product id -> title
        self.window_thumbs = Thumbs(max_thumbs)  # beyond the view: search hits name older windows
        self.product_thumbs = Thumbs(max(max_thumbs, 20_000))
        self.joins: OrderedDict[WindowKey, WindowJoin] = OrderedDict()
        self.queryable_s: deque[float] = deque(maxlen=freshness_samples)
        self.tagged_s: deque[float] = deque(maxlen=freshness_samples)
        self.refined_s: deque[float] = deque(maxlen=freshness_samples)
        self.dead = {"input": DeadLetters(), "internal": DeadLetters()}
        self.windows_total = 0
        self.tags_total = 0

    # --------------------------------------------------------------------------- joins and bounds
    def _join(self, key: WindowKey) -> WindowJoin:
        j = self.joins.get(key)
        if j is None:
            j = self.joins[key] = WindowJoin()
            while len(self.joins) > self.max_joins:
                self.joins.popitem(last=False)
        return j

    def _sample_tagged(self, j: WindowJoin) -> None:
        """close → tagged, once both times are known."""
        if j.closed_at is not None and j.tagged_at is not None and not j.tag_sampled:
            self.tagged_s.append(max(0.0, j.tagged_at - j.closed_at))
            j.tag_sampled = True

    def _touch(self, stream_id: str, at: float | None) -> bool:
        """Record the stream's latest time; False when the stream is too old to be shown."""
        self.stream_at[stream_id] = max(self.stream_at.get(stream_id, 0.0), at or 0.0)
        self.streams[stream_id] = self.streams.pop(stream_id, {})  # equal times: the last touched is newer
        if len(self.streams) > self.max_streams:
            oldest = min(self.streams, key=lambda s: self.stream_at[s])
            del self.streams[oldest]
            del self.stream_at[oldest]
        return stream_id in self.streams

    def _window(self, stream_id: str, start_ms: int, end_ms: int, at: float | None) -> WindowView | None:
        """The shown window (None when it is older than the stream's latest ``windows_per_stream``)."""
        if not self._touch(stream_id, at):
            return None
        wins = self.streams[stream_id]
        key = (start_ms, end_ms)
        if key not in wins:
            wins[key] = WindowView(stream_id, start_ms, end_ms)
            latest = sorted(wins.items())[-self.windows_per_stream:]  # the latest windows by stream time
            wins.clear()
            wins.update(latest)
        return wins.get(key)

    def _foreign(self, rec: dict[str, Any]) -> bool:
        """True for a record this dashboard must not show (another seller's, on a seller's dashboard)."""
        return self.seller is not None and rec.get("seller_id") != self.seller

    # --------------------------------------------------------------------------- records in
    def on_product(self, rec: dict[str, Any]) -> dict[str, Any] | None:
        pid = rec.get("product_id")
        if not pid or self._foreign(rec):
            return None
        self.catalog[pid] = rec.get("title", "")
        imgs = rec.get("images_b64") or []
        if imgs:
            self.product_thumbs.put(thumb_id("p", pid), thumbnail(imgs[0], 96))
        return None  # the catalog changes rarely; pages load photos by URL

    def on_window(self, rec: dict[str, Any], now: float | None = None) -> dict[str, Any] | None:
        if rec.get("domain", "live") not in ("live", "video") or "stream_id" not in rec or self._foreign(rec):
            return None
        sid, start, end = rec["stream_id"], rec["start_ms"], rec["end_ms"]
        frames = rec.get("keyframes_b64") or []
        tid = thumb_id("w", sid, int(start), int(end))
        if frames and self.window_thumbs.get(tid) is None:
            self.window_thumbs.put(tid, thumbnail(frames[0]))
        j = self._join((sid, start, end))
        j.closed_at = rec.get("closed_at") or j.closed_at
        j.text = " ".join(str(rec.get("text") or "").split())[:TEXT_CHARS]
        self._sample_tagged(j)
        w = self._window(sid, start, end, rec.get("closed_at"))
        if w is None:
            return self._freshness_update(now)
        w.domain = rec.get("domain", "live")
        w.text = j.text
        w.closed_at = rec.get("closed_at") or w.closed_at
        return self._window_update(w, now)

    def on_embedding(self, rec: dict[str, Any], now: float | None = None) -> dict[str, Any] | None:
        if rec.get("kind") not in ("live", "video") or not rec.get("window") or not rec.get("stream_id") or self._foreign(rec):
            return None
        sid, (start, end) = rec["stream_id"], rec["window"]
        revision = int(rec.get("revision") or 1)
        j = self._join((sid, start, end))
        j.closed_at = rec.get("closed_at") or j.closed_at
        self._sample_tagged(j)
        lag = None
        if rec.get("closed_at") and rec.get("indexed_at"):
            lag = max(0.0, rec["indexed_at"] - rec["closed_at"])
            (self.queryable_s if revision == 1 else self.refined_s).append(lag)
        if not j.indexed:
            j.indexed = True
            self.windows_total += 1
        w = self._window(sid, start, end, rec.get("indexed_at"))
        if w is None:
            return self._freshness_update(now)
        if revision < w.revision:
            return None  # a replayed older revision never replaces a newer one
        summary = rec.get("summary") or {}
        w.domain = rec["kind"]
        w.object_id = rec.get("object_id")
        w.sentence = summary.get("sentence") or ""
        w.product_name = summary.get("product_name") or ""
        w.summary_source = summary.get("source") or rec.get("summary_source") or ""
        w.closed_at = rec.get("closed_at") or w.closed_at
        if revision == 1 and lag is not None:
            w.queryable_s = lag
        w.revision = revision
        return self._window_update(w, now)

    def on_tag(self, rec: dict[str, Any], now: float | None = None) -> dict[str, Any] | None:
        if "stream_id" not in rec or not rec.get("window") or self._foreign(rec):
            return None
        sid, (start, end) = rec["stream_id"], rec["window"]
        revision = int(rec.get("revision") or 1)
        j = self._join((sid, start, end))
        if revision == 1 and rec.get("tagged_at"):
            j.tagged_at = rec["tagged_at"]
            self._sample_tagged(j)
        if not j.tagged:
            j.tagged = True
            self.tags_total += 1
        w = self._window(sid, start, end, rec.get("tagged_at"))
        if w is None:
            return self._freshness_update(now)
        if revision < w.tag_revision:
            return None
        w.products = [dict(p) for p in rec.get("products", [])[:3]]
        w.claimed = bool(rec.get("claimed"))
        w.tag_revision = revision
        return self._window_update(w, now)

    def on_segment(self, rec: dict[str, Any], now: float | None = None) -> dict[str, Any] | None:
        """A product segment's newest revision on its stream's timeline (the latest few per stream)."""
        sid, gid = rec.get("stream_id"), rec.get("segment_id")
        if not isinstance(sid, str) or not isinstance(gid, str) or self._foreign(rec) or not self._touch(sid, rec.get("updated_at")):
            return None
        segs = self.segments.setdefault(sid, {})
        old = segs.get(gid)
        if old is not None and int(old.get("revision") or 1) >= int(rec.get("revision") or 1):
            return None
        segs[gid] = self.segment_json(rec)
        for g in sorted(segs, key=lambda k: segs[k]["start_ms"])[: -self.segments_per_stream]:
            del segs[g]
        for gone in set(self.segments) - set(self.streams):
            del self.segments[gone]
        return {"type": "segment", "segment": segs.get(gid)} if gid in segs else None

    def segment_json(self, rec: dict[str, Any]) -> dict[str, Any]:
        """What the page shows of a segment: the product only when it is claimed."""
        claimed = bool(rec.get("claimed"))
        pid = rec.get("product_id") if claimed else None
        return {"stream_id": rec["stream_id"], "segment_id": rec["segment_id"], "start_ms": int(rec.get("start_ms") or 0),
                "end_ms": int(rec.get("end_ms") or 0), "claimed": claimed, "product_id": pid,
                "title": str(rec.get("title") or "") if claimed else "", "windows": int(rec.get("windows") or 0),
                "revision": int(rec.get("revision") or 1), "reason": None if claimed else rec.get("reason"),
                "thumb": self.product_thumb(pid) if pid else None}

    def on_dlq(self, rec: dict[str, Any], now: float | None = None) -> dict[str, Any] | None:
        if self.seller is not None:
            return None  # dead letters name no seller: a seller's dashboard shows none
        now = time.time() if now is None else now
        topic = rec.get("topic")
        kind = "input" if is_input_topic(topic) else "internal"
        self.dead[kind].add(topic, rec.get("reason", ""), rec.get("failed_at") or now)
        return {"type": "dlq", "dlq": self.dlq(now)}

    # --------------------------------------------------------------------------- views out
    def product_thumb(self, product_id: str | None) -> str | None:
        return self.product_thumbs.url(thumb_id("p", product_id))

    def window_thumb(self, stream_id: str, start_ms: float, end_ms: float) -> str | None:
        """URL of a window's keyframe; the store gives times as numbers (14000.0), the topics as ints."""
        return self.window_thumbs.url(thumb_id("w", stream_id, int(start_ms), int(end_ms)))

    def window_text(self, stream_id: str, start_ms: float, end_ms: float) -> str:
        """What was said in a window (its transcript, cut), when its record was seen."""
        j = self.joins.get((stream_id, int(start_ms), int(end_ms)))
        return j.text if j else ""

    def thumb_bytes(self, tid: str) -> bytes | None:
        return self.window_thumbs.get(tid) or self.product_thumbs.get(tid)

    def window_json(self, w: WindowView) -> dict[str, Any]:
        return {
            "stream_id": w.stream_id, "domain": w.domain, "start_ms": w.start_ms, "end_ms": w.end_ms,
            "stream_at": self.stream_at.get(w.stream_id), "object_id": w.object_id,
            "thumb": self.window_thumb(w.stream_id, w.start_ms, w.end_ms), "sentence": w.sentence,
            "product_name": w.product_name, "text": w.text, "summary_source": w.summary_source,
            "queryable_s": w.queryable_s, "claimed": w.claimed, "revision": w.revision,
            "products": [{**p, "thumb": self.product_thumb(p.get("product_id"))} for p in w.products],
        }

    def _window_update(self, w: WindowView, now: float | None) -> dict[str, Any]:
        return {"type": "window", "window": self.window_json(w), "freshness": self.freshness(now)}

    def _freshness_update(self, now: float | None) -> dict[str, Any]:
        return {"type": "freshness", "freshness": self.freshness(now)}

    def freshness(self, now: float | None = None) -> dict[str, Any]:
        q, t, r = list(self.queryable_s), list(self.tagged_s), list(self.refined_s)
        return {
            "queryable_p50_s": percentile(q, 50), "queryable_p95_s": percentile(q, 95),
            "tagged_p50_s": percentile(t, 50), "tagged_p95_s": percentile(t, 95),
            "refined_p50_s": percentile(r, 50), "refined_p95_s": percentile(r, 95),
            "windows": self.windows_total, "tags": self.tags_total,
        }

    def dlq(self, now: float | None = None) -> dict[str, Any]:
        now = time.time() if now is None else now
        views = {k: d.view(now, self.dlq_window_s) for k, d in self.dead.items()}
        return {"total": sum(d.total for d in self.dead.values()), **views}

    def snapshot(self, now: float | None = None) -> dict[str, Any]:
        order = sorted(self.streams, key=lambda s: self.stream_at[s])[::-1]
        return {
            "streams": [
                {"stream_id": sid, "stream_at": self.stream_at[sid],
                 "windows": [self.window_json(w) for _, w in sorted(self.streams[sid].items(), reverse=True)],
                 "segments": sorted(self.segments.get(sid, {}).values(), key=lambda g: g["start_ms"])}
                for sid in order
            ],
            "catalog_size": len(self.catalog),
            "freshness": self.freshness(now),
            "dlq": self.dlq(now),
        }
