"""Per-stream event-time windowing as a pure state machine (no Kafka here).

The state of one stream is a JSON-able dict kept in a changelog-backed table. Applying an event
returns the windows it closed. Re-applying an event already seen (a replay after a crash) changes
nothing: ASR chunks are de-duplicated by ``seq``, and anything older than the last closed window
edge is ignored, so a restart neither loses nor duplicates a window.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from streams.ids import window_id
from streams.keyframes import FrameCandidate, select_keyframes

CloseReason = str  # "watermark" | "idle" | "stream_end" | "product_switch"


@dataclass(frozen=True)
class WindowConfig:
    """Window geometry and limits."""

    window_ms: int = 30_000
    hop_ms: int = 30_000
    grace_ms: int = 2_000
    idle_close_ms: int = 10_000
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


@dataclass
class StreamState:
    """Everything the windower remembers about one stream."""

    stream_id: str
    origin_ms: int
    watermark_ms: int = 0
    closed_until_ms: int = -1
    max_seq: int = -1
    last_wall: float = 0.0
    lang: str = "en"
    product_hint: str | None = None
    windows: dict[int, OpenWindow] = field(default_factory=dict)

    # --- (de)serialization for the table -------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "stream_id": self.stream_id,
            "origin_ms": self.origin_ms,
            "watermark_ms": self.watermark_ms,
            "closed_until_ms": self.closed_until_ms,
            "max_seq": self.max_seq,
            "last_wall": self.last_wall,
            "lang": self.lang,
            "product_hint": self.product_hint,
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
        st = cls(
            stream_id=d["stream_id"],
            origin_ms=d["origin_ms"],
            watermark_ms=d["watermark_ms"],
            closed_until_ms=d["closed_until_ms"],
            max_seq=d["max_seq"],
            last_wall=d["last_wall"],
            lang=d.get("lang", "en"),
            product_hint=d.get("product_hint"),
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
    return StreamState(stream_id=stream_id, origin_ms=first_ts_ms - first_ts_ms % cfg.hop_ms, watermark_ms=first_ts_ms)


def _window_starts(ts: int, origin: int, cfg: WindowConfig) -> list[int]:
    """Starts of every window [s, s + window) on the grid origin + k*hop that holds ``ts``."""
    if ts < origin:
        return []
    k_hi = (ts - origin) // cfg.hop_ms
    k_lo = max(0, -(-(ts - origin - cfg.window_ms + 1) // cfg.hop_ms))
    return [origin + k * cfg.hop_ms for k in range(k_lo, k_hi + 1)]


def _windows_for(st: StreamState, ts: int, cfg: WindowConfig) -> list[OpenWindow]:
    out = []
    for s in _window_starts(ts, st.origin_ms, cfg):
        if s + cfg.window_ms <= st.closed_until_ms:
            continue
        w = st.windows.get(s)
        if w is None:
            w = st.windows[s] = OpenWindow(s, s + cfg.window_ms)
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
    )


def _advance(st: StreamState, ts: int, cfg: WindowConfig) -> list[ClosedWindow]:
    """Move the watermark and close every window whose end + grace it passed."""
    st.watermark_ms = max(st.watermark_ms, ts)
    out = []
    for start in sorted(st.windows):
        w = st.windows[start]
        if w.end_ms + cfg.grace_ms <= st.watermark_ms:
            cw = _close(st, w, "watermark", cfg)
            if cw:
                out.append(cw)
    return out


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
    if ts < st.closed_until_ms or ts < st.origin_ms:
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
    res.closed = _advance(st, max(ts, chunk.get("end_ms", ts)), cfg)
    return res


def apply_frame(st: StreamState, frame: FrameCandidate, cfg: WindowConfig, wall: float) -> Applied:
    """Add one scored keyframe; each window keeps a bounded pool of candidates."""
    res = Applied()
    if frame.ts_ms < st.closed_until_ms or frame.ts_ms < st.origin_ms:
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
    res.closed = _advance(st, frame.ts_ms, cfg)
    return res


def apply_product_switch(st: StreamState, ts: int, hint: str | None, cfg: WindowConfig, wall: float) -> Applied:
    """The broadcaster moved to another product: close open windows at ``ts`` and restart the grid."""
    if ts < st.closed_until_ms:
        return Applied(duplicate=True)
    st.last_wall = wall
    closed = close_all(st, "product_switch", cfg, end_ms=ts)
    st.origin_ms = ts
    st.closed_until_ms = max(st.closed_until_ms, ts)
    st.watermark_ms = max(st.watermark_ms, ts)
    st.product_hint = hint
    return Applied(closed=closed)


def idle_expired(st: StreamState, now_wall: float, cfg: WindowConfig) -> bool:
    """True when the stream has open windows and sent nothing for ``idle_close_ms``."""
    return bool(st.windows) and (now_wall - st.last_wall) * 1000 >= cfg.idle_close_ms
