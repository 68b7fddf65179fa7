"""What the dashboard shows, built from the topics' records: a pure, bounded, in-memory view.

Each ``on_*`` method takes one decoded record and returns the update to push to browsers (or None);
``snapshot()`` is the whole view for a page that just opened.
"""

from __future__ import annotations

import base64
import io
import math
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, UnidentifiedImageError

WindowKey = tuple[str, int, int]


def thumbnail(jpeg_b64: str, size: int = 160) -> str | None:
    """A small JPEG data URI of a base64 image (None when it does not decode)."""
    try:
        img = Image.open(io.BytesIO(base64.b64decode(jpeg_b64)))
        img = img.convert("RGB")
        img.thumbnail((size, size))
    except (ValueError, OSError, UnidentifiedImageError):
        return None
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=75)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no values."""
    if not values:
        return None
    s = sorted(values)
    return s[max(0, min(len(s) - 1, math.ceil(q / 100 * len(s)) - 1))]


@dataclass
class WindowView:
    """One window of a stream as the page shows it."""

    stream_id: str
    start_ms: int
    end_ms: int
    object_id: str | None = None
    thumb: str | None = None
    sentence: str = ""
    product_name: str = ""
    summary_source: str = ""
    closed_at: float | None = None
    queryable_s: float | None = None
    products: list[dict[str, Any]] = field(default_factory=list)
    claimed: bool | None = None
    revision: int = 0
    tag_revision: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "stream_id": self.stream_id, "start_ms": self.start_ms, "end_ms": self.end_ms,
            "object_id": self.object_id, "thumb": self.thumb, "sentence": self.sentence,
            "product_name": self.product_name, "summary_source": self.summary_source,
            "queryable_s": self.queryable_s, "products": self.products, "claimed": self.claimed,
            "revision": self.revision,
        }


class DashboardState:
    """Streams (most recent first) with their latest windows, the catalog's photos, freshness, DLQ rate."""

    def __init__(self, max_streams: int = 24, windows_per_stream: int = 6, freshness_samples: int = 500,
                 dlq_window_s: float = 60.0) -> None:
        self.max_streams, self.windows_per_stream = max_streams, windows_per_stream
        self.dlq_window_s = dlq_window_s
        self.streams: OrderedDict[str, OrderedDict[tuple[int, int], WindowView]] = OrderedDict()
        self.catalog: dict[str, dict[str, Any]] = {}
        self.queryable_s: deque[float] = deque(maxlen=freshness_samples)
        self.tagged_s: deque[float] = deque(maxlen=freshness_samples)
        self.refined_s: deque[float] = deque(maxlen=freshness_samples)
        self.dlq_times: deque[float] = deque(maxlen=10_000)
        self.dlq_total = 0
        self.dlq_last: list[dict[str, Any]] = []
        self.windows_total = 0
        self.tags_total = 0

    # --------------------------------------------------------------------------- records in
    def _window(self, stream_id: str, start_ms: int, end_ms: int) -> WindowView:
        wins = self.streams.get(stream_id)
        if wins is None:
            wins = self.streams[stream_id] = OrderedDict()
            while len(self.streams) > self.max_streams:
                self.streams.popitem(last=False)
        self.streams.move_to_end(stream_id)
        key = (start_ms, end_ms)
        if key not in wins:
            wins[key] = WindowView(stream_id, start_ms, end_ms)
            wins_sorted = sorted(wins.items())  # keep the latest windows by stream time
            wins.clear()
            wins.update(wins_sorted[-self.windows_per_stream:])
        return wins.get(key) or WindowView(stream_id, start_ms, end_ms)  # an older window: dropped view

    def on_product(self, rec: dict[str, Any]) -> dict[str, Any] | None:
        pid = rec.get("product_id")
        if not pid:
            return None
        imgs = rec.get("images_b64") or []
        self.catalog[pid] = {"title": rec.get("title", ""), "thumb": thumbnail(imgs[0], 96) if imgs else None}
        return None  # the catalog changes rarely; pages fetch photos with /api/state

    def on_window(self, rec: dict[str, Any]) -> dict[str, Any] | None:
        if rec.get("domain", "live") != "live" or "stream_id" not in rec:
            return None
        w = self._window(rec["stream_id"], rec["start_ms"], rec["end_ms"])
        frames = rec.get("keyframes_b64") or []
        w.thumb = w.thumb or (thumbnail(frames[0]) if frames else None)
        w.closed_at = rec.get("closed_at")
        return {"type": "window", "window": w.to_json()}

    def on_embedding(self, rec: dict[str, Any], now: float | None = None) -> dict[str, Any] | None:
        if rec.get("kind") != "live" or not rec.get("window"):
            return None
        start, end = rec["window"]
        w = self._window(rec["stream_id"], start, end)
        revision = int(rec.get("revision") or 1)
        if revision < w.revision:
            return None  # a replayed older revision never replaces a newer one
        summary = rec.get("summary") or {}
        w.object_id = rec.get("object_id")
        w.sentence = summary.get("sentence") or ""
        w.product_name = summary.get("product_name") or ""
        w.summary_source = summary.get("source") or ""
        w.closed_at = rec.get("closed_at") or w.closed_at
        if rec.get("closed_at") and rec.get("indexed_at"):
            lag = max(0.0, rec["indexed_at"] - rec["closed_at"])
            if revision == 1:
                w.queryable_s = lag
                self.queryable_s.append(lag)
            else:
                self.refined_s.append(lag)
        if w.revision == 0:
            self.windows_total += 1
        w.revision = revision
        return {"type": "window", "window": w.to_json(), "freshness": self.freshness(now)}

    def on_tag(self, rec: dict[str, Any], now: float | None = None) -> dict[str, Any] | None:
        if "stream_id" not in rec or not rec.get("window"):
            return None
        start, end = rec["window"]
        w = self._window(rec["stream_id"], start, end)
        revision = int(rec.get("revision") or 1)
        if revision < w.tag_revision:
            return None
        w.products = [
            {**p, "thumb": (self.catalog.get(p.get("product_id")) or {}).get("thumb")} for p in rec.get("products", [])[:3]
        ]
        w.claimed = bool(rec.get("claimed"))
        if w.closed_at and rec.get("tagged_at") and revision == 1:
            self.tagged_s.append(max(0.0, rec["tagged_at"] - w.closed_at))
        if w.tag_revision == 0:
            self.tags_total += 1
        w.tag_revision = revision
        return {"type": "window", "window": w.to_json(), "freshness": self.freshness(now)}

    def on_dlq(self, rec: dict[str, Any], now: float | None = None) -> dict[str, Any] | None:
        now = time.time() if now is None else now
        self.dlq_total += 1
        self.dlq_times.append(rec.get("failed_at") or now)
        self.dlq_last = ([{"topic": rec.get("topic"), "reason": rec.get("reason", "")}] + self.dlq_last)[:5]
        return {"type": "dlq", "dlq": self.dlq(now)}

    # --------------------------------------------------------------------------- views out
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
        recent = sum(1 for t in self.dlq_times if now - t <= self.dlq_window_s)
        return {"total": self.dlq_total, "per_min": recent * 60.0 / self.dlq_window_s, "last": self.dlq_last}

    def snapshot(self, now: float | None = None) -> dict[str, Any]:
        return {
            "streams": [
                {"stream_id": sid, "windows": [w.to_json() for w in reversed(wins.values())]}
                for sid, wins in reversed(self.streams.items())
            ],
            "catalog_size": len(self.catalog),
            "freshness": self.freshness(now),
            "dlq": self.dlq(now),
        }

    def window_thumb(self, stream_id: str, start_ms: int, end_ms: int) -> str | None:
        w = (self.streams.get(stream_id) or {}).get((start_ms, end_ms))
        return w.thumb if w else None
