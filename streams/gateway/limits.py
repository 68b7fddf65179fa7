"""The gateway's limits: request and message sizes, and per-stream rates (one token bucket per stream id)."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from streams.schemas import EVENT_MAX_BYTES, asr_max_bytes
from streams.settings import Settings

#: Largest body of a start / end / product_switch event: the worker's bound on event records.
EVENT_BODY_BYTES = EVENT_MAX_BYTES


def body_limit(settings: Settings) -> int:
    """Largest request body or WebSocket message: one image in base64 plus room for the JSON around it."""
    return settings.max_image_bytes * 4 // 3 + 64 * 1024


def asr_body_limit(settings: Settings) -> int:
    """Largest ASR chunk body: the worker's bound on ASR records (``streams.schemas.asr_max_bytes``)."""
    return asr_max_bytes(settings.max_text_chars)


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token buckets keyed by stream id: ``rate_per_s`` messages per second, bursts up to ``burst``.

    At most ``max_streams`` buckets are kept; the least recently used one is forgotten first (a
    forgotten stream starts again with a full bucket).
    """

    def __init__(self, rate_per_s: float, burst: int, max_streams: int = 10_000) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("rate_per_s must be > 0 and burst >= 1")
        self.rate, self.burst, self.max_streams = rate_per_s, float(burst), max_streams
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def acquire(self, stream_id: str, now: float) -> float:
        """Take one token; return 0.0 when allowed, else the seconds until a token is available."""
        b = self._buckets.pop(stream_id, None) or _Bucket(self.burst, now)
        b.tokens = min(self.burst, b.tokens + max(0.0, now - b.updated) * self.rate)
        b.updated = now
        self._buckets[stream_id] = b
        while len(self._buckets) > self.max_streams:
            self._buckets.popitem(last=False)
        if b.tokens >= 1.0:
            b.tokens -= 1.0
            return 0.0
        return (1.0 - b.tokens) / self.rate
