"""Per-stream event-time windowing as a pure state machine (no Kafka here).

The state of one stream is a JSON-able dict kept in a changelog-backed table. Applying an event
returns the windows it closed. Re-applying an event already seen (a replay after a crash) changes
nothing: ASR chunks are de-duplicated by ``seq``, and anything older than the last closed window
edge is ignored, so a restart neither loses nor duplicates a window.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from streams.ids import window_id
from streams.keyframes import FrameCandidate, select_keyframes

STATE_VERSION = 2

CloseReason = str  # "watermark" | "idle" | "stream_end" | "product_switch"


@dataclass(frozen=True)
class WindowConfig:
    """Window geometry and limits."""

    window_ms: int = 30_000
    hop_ms: int = 30_000
    grace_ms: int = 2_000
    idle_close_ms: int = 10_000
    end_settle_ms: int = 1_500
    max_keyframes: int = 4

    def __post_init__(self) -> None:
        if self.window_ms <= 0 or self.hop_ms <= 0:
            raise ValueError("window_ms and hop_ms must be positive")
        if self.hop_ms > self.window_ms:
            raise ValueError("hop_ms larger than window_ms would leave gaps between windows")


@dataclass
class OpenWindow:
    """A window still collecting chunks and frames."""

    start_ms: int
    end_ms: int
    chunks: dict[int, dict] = field(default_factory=dict)  # seq -> chunk
    frames: list[FrameCandidate] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.chunks and not self.frames


@dataclass
class ClosedWindow:
    """A finished window, ready to summarize and encode."""

    window_id: str
    stream_id: str
    start_ms: int
    end_ms: int
    text: str
    lang: str
    keyframes: list[FrameCandidate]
    reason: CloseReason
    product_hint: str | None = None
    domain: str = "live"


@dataclass
class StreamState:
    """Everything the windower remembers about one stream.

    ``origins`` are the starts of the stream's segments (a product switch starts one); windows
    lie on the grid origin + k*hop of their segment and never cross into the next one.
    ``watermarks`` holds the event time reached per source (asr, keyframes): a window closes only
    when every source passed its end + grace, so one topic running ahead of another loses nothing.
    """

    @property
    def watermark_ms(self) -> int:
        """The event time every source has reached."""
        return min(self.watermarks.values()) if self.watermarks else -1

    stream_id: str
    origins: list[int]
    watermarks: dict[str, int] = field(default_factory=dict)
    closed_until_ms: int = -1
    ended: bool = False
    max_seq: int = -1
    last_wall: float = 0.0
    lang: str = "en"
    product_hint: str | None = None
    domain: str = "live"
    windows: dict[int, OpenWindow] = field(default_factory=dict)

    # --- (de)serialization for the table -------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "state_v": STATE_VERSION,
            "stream_id": self.stream_id,
            "origins": self.origins,
            "watermarks": self.watermarks,
            "closed_until_ms": self.closed_until_ms,
            "ended": self.ended,
            "max_seq": self.max_seq,
            "last_wall": self.last_wall,
            "lang": self.lang,
            "product_hint": self.product_hint,
            "domain": self.domain,
            "windows": [
                {
                    "start_ms": w.start_ms,
                    "end_ms": w.end_ms,
                    "chunks": list(w.chunks.values()),
                    "frames": [f.to_dict() for f in w.frames],
                }
                for w in self.windows.values()
            ],
        }

    @classmethod
    def from_dict(cls, d: dict) -> StreamState:
        if d.get("state_v") != STATE_VERSION:
            raise ValueError(
                f"window state of stream {d.get('stream_id')!r} has format {d.get('state_v')}, this worker reads "
                f"{STATE_VERSION}; finish the streams with the old worker or use a new topic prefix"
            )
        st = cls(
            stream_id=d["stream_id"],
            origins=list(d["origins"]),
            watermarks=dict(d["watermarks"]),
            closed_until_ms=d["closed_until_ms"],
            ended=d.get("ended", False),
            max_seq=d["max_seq"],
            last_wall=d["last_wall"],
            lang=d.get("lang", "en"),
            product_hint=d.get("product_hint"),
            domain=d.get("domain", "live"),
        )
        for w in d["windows"]:
            ow = OpenWindow(w["start_ms"], w["end_ms"])
            ow.chunks = {c["seq"]: c for c in w["chunks"]}
            ow.frames = [FrameCandidate.from_dict(f) for f in w["frames"]]
            st.windows[ow.start_ms] = ow
        return st


@dataclass
class Applied:
    """What applying one event did."""

    closed: list[ClosedWindow] = field(default_factory=list)
    late: str | None = None  # reason, when the event came after its window had closed
    duplicate: bool = False


def new_state(stream_id: str, first_ts_ms: int, cfg: WindowConfig) -> StreamState:
    """State of a stream first seen at ``first_ts_ms``; the window grid is aligned to the hop."""
    return StreamState(stream_id=stream_id, origins=[first_ts_ms - first_ts_ms % cfg.hop_ms])


def _segment(st: StreamState, ts: int) -> tuple[int, int | None]:
    """(origin, next origin or None) of the segment holding ``ts``."""
    i = bisect.bisect_right(st.origins, ts) - 1
    nxt = st.origins[i + 1] if i + 1 < len(st.origins) else None
    return st.origins[max(i, 0)], nxt


def _window_bounds(ts: int, st: StreamState, cfg: WindowConfig) -> list[tuple[int, int]]:
    """(start, end) of every window holding ``ts``: grid origin + k*hop, cut at the next segment."""
    origin, nxt = _segment(st, ts)
    if ts < origin:
        return []
    k_hi = (ts - origin) // cfg.hop_ms
    k_lo = max(0, -(-(ts - origin - cfg.window_ms + 1) // cfg.hop_ms))
    out = []
    for k in range(k_lo, k_hi + 1):
        start = origin + k * cfg.hop_ms
        end = start + cfg.window_ms if nxt is None else min(start + cfg.window_ms, nxt)
        out.append((start, end))
    return out


def _windows_for(st: StreamState, ts: int, cfg: WindowConfig) -> list[OpenWindow]:
    out = []
    for start, end in _window_bounds(ts, st, cfg):
        if end <= st.closed_until_ms:
            continue
        w = st.windows.get(start)
        if w is None:
            w = st.windows[start] = OpenWindow(start, end)
        w.end_ms = min(w.end_ms, end)
        out.append(w)
    return out


def _close(st: StreamState, w: OpenWindow, reason: CloseReason, cfg: WindowConfig, end_ms: int | None = None) -> ClosedWindow | None:
    st.windows.pop(w.start_ms, None)
    end = w.end_ms if end_ms is None else min(end_ms, w.end_ms)
    st.closed_until_ms = max(st.closed_until_ms, end)
    if w.empty:
        return None
    chunks = sorted(w.chunks.values(), key=lambda c: c["seq"])
    langs = [c.get("lang") or st.lang for c in chunks]
    lang = max(set(langs), key=langs.count) if langs else st.lang
    return ClosedWindow(
        window_id=window_id(st.stream_id, w.start_ms, end),
        stream_id=st.stream_id,
        start_ms=w.start_ms,
        end_ms=end,
        text=" ".join(c["text"].strip() for c in chunks if c["text"].strip()),
        lang=lang,
        keyframes=select_keyframes(w.frames, cfg.max_keyframes),
        reason=reason,
        product_hint=st.product_hint,
        domain=st.domain,
    )


def _close_passed(st: StreamState, cfg: WindowConfig, reason: CloseReason) -> list[ClosedWindow]:
    """Close every window that all sources passed (end + grace)."""
    out = []
    for start in sorted(st.windows):
        w = st.windows[start]
        if w.end_ms + cfg.grace_ms <= st.watermark_ms:
            cw = _close(st, w, reason, cfg)
            if cw:
                out.append(cw)
    return out


def _advance(st: StreamState, source: str, ts: int, cfg: WindowConfig) -> list[ClosedWindow]:
    """Move one source's watermark and close every window that all sources passed."""
    st.watermarks[source] = max(st.watermarks.get(source, ts), ts)
    return _close_passed(st, cfg, "watermark")


def close_all(st: StreamState, reason: CloseReason, cfg: WindowConfig, end_ms: int | None = None) -> list[ClosedWindow]:
    """Close every open window (idle stream, stream end, product switch)."""
    out = []
    for start in sorted(st.windows):
        cw = _close(st, st.windows[start], reason, cfg, end_ms)
        if cw:
            out.append(cw)
    return out


def apply_chunk(st: StreamState, chunk: dict, cfg: WindowConfig, wall: float) -> Applied:
    """Add one ASR chunk {seq, start_ms, end_ms, text, lang}."""
    res = Applied()
    seq, ts = chunk["seq"], chunk["start_ms"]
    if ts < st.closed_until_ms or ts < st.origins[0]:
        if seq <= st.max_seq:
            res.duplicate = True
        else:
            res.late = f"ASR chunk seq={seq} at {ts} ms arrived after its window closed (closed until {st.closed_until_ms} ms)"
            st.max_seq = seq
        return res
    st.last_wall = wall
    if chunk.get("lang"):
        st.lang = chunk["lang"]
    windows = _windows_for(st, ts, cfg)
    if any(seq in w.chunks for w in windows):
        res.duplicate = True
    for w in windows:
        w.chunks[seq] = {k: chunk[k] for k in ("seq", "start_ms", "end_ms", "text", "lang") if k in chunk}
    st.max_seq = max(st.max_seq, seq)
    res.closed = _advance(st, "asr", ts, cfg)
    return res


def apply_frame(st: StreamState, frame: FrameCandidate, cfg: WindowConfig, wall: float) -> Applied:
    """Add one scored keyframe; each window keeps a bounded pool of candidates."""
    res = Applied()
    if frame.ts_ms < st.closed_until_ms or frame.ts_ms < st.origins[0]:
        res.duplicate = True  # replayed or late frame: frames carry no sequence number
        return res
    st.last_wall = wall
    for w in _windows_for(st, frame.ts_ms, cfg):
        if any(f.ts_ms == frame.ts_ms for f in w.frames):
            res.duplicate = True
            continue
        w.frames.append(frame)
        if len(w.frames) > 3 * cfg.max_keyframes:
            w.frames = select_keyframes(w.frames, 2 * cfg.max_keyframes)
    res.closed = _advance(st, "keyframes", frame.ts_ms, cfg)
    return res


def apply_product_switch(st: StreamState, ts: int, hint: str | None, cfg: WindowConfig, wall: float) -> Applied:
    """The broadcaster moved to another product at ``ts``: a new segment (and window grid) starts there.

    Content already collected is re-bucketed, since other topics may have run ahead of the marker;
    windows then close on the watermark as usual.
    """
    if ts < st.closed_until_ms or ts in st.origins:
        return Applied(duplicate=True)
    st.last_wall = wall
    chunks = {c["seq"]: c for w in st.windows.values() for c in w.chunks.values()}
    frames = {f.ts_ms: f for w in st.windows.values() for f in w.frames}
    st.windows.clear()
    bisect.insort(st.origins, ts)
    st.product_hint = hint
    for c in chunks.values():
        for w in _windows_for(st, c["start_ms"], cfg):
            w.chunks[c["seq"]] = c
    for f in frames.values():
        for w in _windows_for(st, f.ts_ms, cfg):
            w.frames.append(f)
    return Applied(closed=_close_passed(st, cfg, "product_switch"))


def apply_end(st: StreamState, ts: int, cfg: WindowConfig, wall: float) -> Applied:
    """The broadcast ended at ``ts``: the open windows close once the stream has been quiet for
    ``end_settle_ms``, since the other topics may still deliver content from before ``ts``."""
    st.ended = True
    st.last_wall = wall
    return Applied(closed=_close_passed(st, cfg, "watermark"))


def idle_expired(st: StreamState, now_wall: float, cfg: WindowConfig) -> bool:
    """True when the stream has open windows and sent nothing for ``idle_close_ms``
    (``end_settle_ms`` once the broadcaster said the stream ended)."""
    quiet_ms = cfg.end_settle_ms if st.ended else cfg.idle_close_ms
    return bool(st.windows) and (now_wall - st.last_wall) * 1000 >= quiet_ms
