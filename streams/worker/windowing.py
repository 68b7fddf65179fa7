"""Per-stream event-time windowing as a pure state machine (no Kafka here).

The state of one stream is a JSON-able dict kept in a changelog topic. Applying an event returns the
windows it closed. Replay contract: the caller records the input offset applied last per source
(``StreamState.offsets``) and skips records at or below it, so a restart neither loses nor duplicates
a window; ASR chunks are also de-duplicated by ``seq``.

A window closes when every *expected* source of the stream's domain (``WindowConfig.sources_*``:
asr, keyframes, events) passed its end plus grace, or when the stream went quiet on the caller's
clock while nothing unread can be its content. Content that arrives for a window closed by the
watermark is reported as late (never dropped silently); a window closed on quiet is kept a while and reopened (same id) if its content arrives.

State budget: one stream's state is bounded whatever it sends, so its changelog record always fits a
Kafka message. A window holds at most ``max_window_chunks`` chunks and ``max_window_text_bytes`` of
text (as stored JSON); a chunk past either is rejected with its reason (the caller dead-letters it). A
stream keeps at most ``max_open_windows`` open windows: opening one more closes the oldest early
(reason ``budget``, indexed like any other). Keyframe candidates are pruned per window, the applied
``seq`` numbers are kept as at most ``max_seq_ranges`` ranges, and at most ``max_segments`` product
segments are open. :func:`shed` closes everything a stream holds, for a state that still outgrows the
record limit (the caller's last guard).
"""

from __future__ import annotations

import bisect
import json
from dataclasses import dataclass, field

from streams.ids import window_id
from streams.keyframes import FrameCandidate, select_keyframes
from streams.schemas import CloseReason

STATE_VERSION = 4
READS_STATE_VERSIONS = (3, 4)  # a version-3 state is read as version 4 (its seq history starts at max_seq)
SOURCES = ("asr", "keyframes", "events")


@dataclass(frozen=True)
class WindowConfig:
    """Window geometry and limits."""

    window_ms: int = 30_000
    hop_ms: int = 30_000
    grace_ms: int = 2_000
    idle_close_ms: int = 10_000
    end_settle_ms: int = 1_500
    max_keyframes: int = 4
    sources_live: tuple[str, ...] = ("asr", "keyframes")
    sources_video: tuple[str, ...] = ("asr", "keyframes")
    retain_closed: int = 4
    max_window_chunks: int = 1_000
    max_window_text_bytes: int = 64 * 1024
    max_open_windows: int = 8
    max_seq_ranges: int = 256
    max_segments: int = 64
    max_frame_history: int = 512
    max_lineups: int = 16

    def __post_init__(self) -> None:
        if self.window_ms <= 0 or self.hop_ms <= 0:
            raise ValueError("window_ms and hop_ms must be positive")
        if self.hop_ms > self.window_ms:
            raise ValueError("hop_ms larger than window_ms would leave gaps between windows")
        for name in ("sources_live", "sources_video"):
            srcs = getattr(self, name)
            if not srcs or set(srcs) - set(SOURCES):
                raise ValueError(f"{name} must name one or more of {', '.join(SOURCES)}, got {srcs!r}")
        if self.retain_closed < 0:
            raise ValueError("retain_closed must be >= 0")
        for name in ("max_window_chunks", "max_window_text_bytes", "max_open_windows", "max_seq_ranges", "max_segments",
                     "max_frame_history", "max_lineups"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")

    def expected(self, domain: str) -> tuple[str, ...]:
        """The sources whose watermark closes a window of this domain."""
        return self.sources_video if domain == "video" else self.sources_live


@dataclass
class OpenWindow:
    """A window still collecting chunks and frames."""

    start_ms: int
    end_ms: int
    chunks: dict[int, dict] = field(default_factory=dict)  # seq -> chunk
    frames: list[FrameCandidate] = field(default_factory=list)
    text_bytes: int = 0  # stored size of the chunks' text (derived, not serialized)

    @property
    def empty(self) -> bool:
        return not self.chunks and not self.frames

    def add_chunk(self, chunk: dict) -> None:
        """Keep ``chunk`` (by its seq) and count its stored text size."""
        if chunk["seq"] not in self.chunks:
            self.text_bytes += text_cost(chunk["text"])
        self.chunks[chunk["seq"]] = chunk


def text_cost(text: str) -> int:
    """Bytes ``text`` takes in a stored state (UTF-8 JSON, escapes included)."""
    return len(json.dumps(text, ensure_ascii=False).encode("utf-8"))


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
    lineup: list[str] | None = None
    segment_start_ms: int | None = None
    seller_id: str | None = None


@dataclass
class StreamState:
    """Everything the windower remembers about one stream.

    ``origins`` are the starts of the stream's segments (a product switch starts one); windows
    lie on the grid origin + k*hop of their segment and never cross into the next one.
    ``watermarks`` holds the event time reached per source (asr, keyframes, events). ``retained``
    keeps windows closed on quiet (idle, stream end) so that content arriving afterwards reopens them.
    ``offsets`` is the input offset applied last per source: a record at or below it is a replay.
    ``last_clock`` is the caller's clock (seconds) at the stream's last record and ``last_log_ms`` that
    record's log time (its Kafka timestamp), both set by the caller. ``seqs`` are the ASR
    ``seq`` numbers applied so far as sorted ``[lo, hi]`` ranges; below ``seq_floor`` the history was
    forgotten (budget), so a chunk there that is not in an open window is reported, never skipped.
    """

    stream_id: str
    origins: list[int]
    watermarks: dict[str, int] = field(default_factory=dict)
    closed_until_ms: int = -1
    ended: bool = False
    max_seq: int = -1
    last_clock: float = 0.0
    last_log_ms: int = -1  # log time (the Kafka timestamp) of the stream's newest applied record
    lang: str = "en"
    product_hint: str | None = None  # the newest segment's
    hints: dict[int, str | None] = field(default_factory=dict)  # segment origin -> its product hint
    lineups: list[tuple[int, list[str]]] = field(default_factory=list)  # (from ts, product ids), sorted by ts
    domain: str = "live"
    seller_id: str | None = None  # from the start event; fixed once set
    windows: dict[int, OpenWindow] = field(default_factory=dict)
    retained: dict[int, OpenWindow] = field(default_factory=dict)
    offsets: dict[str, int] = field(default_factory=dict)
    seqs: list[list[int]] = field(default_factory=list)
    seq_floor: int = -1
    frame_ts: list[int] = field(default_factory=list)  # times of the keyframes applied (sorted, bounded)
    frame_floor: int = -1  # at or below it the keyframe history was forgotten
    hold_closes: bool = False  # set by the caller, never stored: watermark closes wait (unread events)

    def watermark(self, cfg: WindowConfig) -> int:
        """The event time every expected source has reached (-1 while one was never seen)."""
        return min(self.watermarks.get(s, -1) for s in cfg.expected(self.domain))

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
            "last_clock": self.last_clock,
            "last_log_ms": self.last_log_ms,
            "lang": self.lang,
            "product_hint": self.product_hint,
            "hints": [[origin, hint] for origin, hint in sorted(self.hints.items())],
            "lineups": [[ts, ids] for ts, ids in self.lineups],
            "domain": self.domain,
            "seller_id": self.seller_id,
            "windows": [_window_dict(w) for w in self.windows.values()],
            "retained": [_window_dict(w) for w in self.retained.values()],
            "offsets": self.offsets,
            "seqs": self.seqs,
            "seq_floor": self.seq_floor,
            "frame_ts": self.frame_ts,
            "frame_floor": self.frame_floor,
        }

    @classmethod
    def from_dict(cls, d: dict) -> StreamState:
        if d.get("state_v") not in READS_STATE_VERSIONS:
            raise ValueError(
                f"window state of stream {d.get('stream_id')!r} has format {d.get('state_v')}, this worker reads "
                f"{', '.join(map(str, READS_STATE_VERSIONS))}; finish the streams with the old worker or use a new topic prefix"
            )
        st = cls(
            stream_id=d["stream_id"],
            origins=list(d["origins"]),
            watermarks=dict(d["watermarks"]),
            closed_until_ms=d["closed_until_ms"],
            ended=d.get("ended", False),
            max_seq=d["max_seq"],
            last_clock=d["last_clock"],
            last_log_ms=d.get("last_log_ms", -1),
            lang=d.get("lang", "en"),
            product_hint=d.get("product_hint"),
            hints={int(origin): hint for origin, hint in d.get("hints", [])},
            lineups=[(int(ts), list(ids)) for ts, ids in d.get("lineups", [])],
            domain=d.get("domain", "live"),
            seller_id=d.get("seller_id"),
            offsets=dict(d.get("offsets", {})),
            seqs=[list(r) for r in d.get("seqs", [])],
            seq_floor=d.get("seq_floor", d["max_seq"] if d["state_v"] == 3 else -1),
            frame_ts=list(d.get("frame_ts", [])),
            frame_floor=d.get("frame_floor", -1),
        )
        st.windows = {w.start_ms: w for w in map(_window_from, d["windows"])}
        st.retained = {w.start_ms: w for w in map(_window_from, d.get("retained", []))}
        return st


def _window_dict(w: OpenWindow) -> dict:
    return {"start_ms": w.start_ms, "end_ms": w.end_ms, "chunks": list(w.chunks.values()), "frames": [f.to_dict() for f in w.frames]}


def _window_from(d: dict) -> OpenWindow:
    ow = OpenWindow(d["start_ms"], d["end_ms"])
    for c in d["chunks"]:
        ow.add_chunk(c)
    ow.frames = [FrameCandidate.from_dict(f) for f in d["frames"]]
    return ow


@dataclass
class Applied:
    """What applying one event did."""

    closed: list[ClosedWindow] = field(default_factory=list)
    late: str | None = None  # reason, when the event came after its window had closed
    late_kind: str | None = None  # asr | keyframes | product_switch
    rejected: str | None = None  # reason, when the event would outgrow the stream's state budget
    duplicate: bool = False
    reopened: int = 0  # windows closed on quiet that this event reopened


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


def _windows_for(st: StreamState, ts: int, cfg: WindowConfig, res: Applied | None = None) -> list[OpenWindow] | None:
    """The open windows that take content at ``ts`` (opened, or reopened when closed on quiet);
    None when a window holding ``ts`` already closed on the watermark (the content is late)."""
    if ts < st.origins[0]:
        return None
    bounds = _window_bounds(ts, st, cfg)
    if any(s not in st.windows and s not in st.retained and e <= st.closed_until_ms for s, e in bounds):
        return None
    out = []
    for start, end in bounds:
        w = st.windows.get(start)
        if w is None and start in st.retained:
            w = st.windows[start] = st.retained.pop(start)
            if res is not None:
                res.reopened += 1
        if w is None:
            w = st.windows[start] = OpenWindow(start, end)
        w.end_ms = min(w.end_ms, end)
        out.append(w)
    return out


def _close(st: StreamState, w: OpenWindow, reason: CloseReason, cfg: WindowConfig, retain: bool = False) -> ClosedWindow | None:
    st.windows.pop(w.start_ms, None)
    st.closed_until_ms = max(st.closed_until_ms, w.end_ms)
    if retain and cfg.retain_closed:
        st.retained[w.start_ms] = w
        for old in sorted(st.retained)[: -cfg.retain_closed]:
            del st.retained[old]
    if w.empty:
        return None
    chunks = sorted(w.chunks.values(), key=lambda c: c["seq"])
    langs = [c.get("lang") or st.lang for c in chunks]
    lang = max(set(langs), key=langs.count) if langs else st.lang
    return ClosedWindow(
        window_id=window_id(st.stream_id, w.start_ms, w.end_ms),
        stream_id=st.stream_id,
        start_ms=w.start_ms,
        end_ms=w.end_ms,
        text=" ".join(c["text"].strip() for c in chunks if c["text"].strip()),
        lang=lang,
        keyframes=select_keyframes(w.frames, cfg.max_keyframes),
        reason=reason,
        product_hint=segment_hint(st, w.start_ms),
        domain=st.domain,
        lineup=window_lineup(st, w.start_ms, w.end_ms),
        segment_start_ms=segment_start(st, w.start_ms),
        seller_id=st.seller_id,
    )


def window_lineup(st: StreamState, start_ms: int, end_ms: int) -> list[str] | None:
    """Every product of the lineups in effect during ``[start_ms, end_ms)`` (the one declared last at or
    before the start, and any declared inside), in declaration order; None when there is none (or it
    was cleared with an empty list)."""
    times = [ts for ts, _ in st.lineups]
    first = max(0, bisect.bisect_right(times, start_ms) - 1)
    ids: dict[str, None] = {}
    for ts, lineup in st.lineups[first:]:
        if ts >= end_ms:
            break
        if ts <= start_ms:
            ids.clear()  # only the last one declared at or before the start is in effect there
        ids.update(dict.fromkeys(lineup))
    return list(ids) or None


def segment_start(st: StreamState, start_ms: int) -> int | None:
    """Where the product segment of a window starting at ``start_ms`` opened: the later of the product
    switch (or stream origin) and the lineup declaration in effect at its start (None: neither)."""
    i = bisect.bisect_right(st.origins, start_ms) - 1
    times = [ts for ts, _ in st.lineups if ts <= start_ms]
    opened = [t for t in (st.origins[i] if i >= 0 else None, times[-1] if times else None) if t is not None]
    return max(opened) if opened else None


def segment_hint(st: StreamState, start_ms: int) -> str | None:
    """The product hint of the segment a window starting at ``start_ms`` belongs to (a state written
    before hints were kept per segment falls back to the newest one)."""
    if not st.hints:
        return st.product_hint
    i = bisect.bisect_right(st.origins, start_ms) - 1
    return st.hints.get(st.origins[i]) if i >= 0 else None


def _close_passed(st: StreamState, cfg: WindowConfig, reason: CloseReason) -> list[ClosedWindow]:
    """Close every window that all expected sources passed (end + grace); forget retained ones they passed.
    Nothing closes while ``st.hold_closes`` is set (the caller has unread broadcaster events)."""
    if st.hold_closes:
        return []
    wm = st.watermark(cfg)
    for start in [s for s, w in st.retained.items() if w.end_ms + cfg.grace_ms <= wm]:
        del st.retained[start]
    out = []
    for start in sorted(st.windows):
        w = st.windows[start]
        if w.end_ms + cfg.grace_ms <= wm:
            cw = _close(st, w, reason, cfg)
            if cw:
                out.append(cw)
    return out


def close_passed(st: StreamState, cfg: WindowConfig) -> list[ClosedWindow]:
    """Close the windows the watermark passed while closes were held (call with ``hold_closes`` off)."""
    return _close_passed(st, cfg, "watermark")


def _advance(st: StreamState, source: str, ts: int, cfg: WindowConfig) -> list[ClosedWindow]:
    """Move one source's watermark and close every window that all expected sources passed."""
    st.watermarks[source] = max(st.watermarks.get(source, ts), ts)
    return _close_passed(st, cfg, "watermark")


def close_all(st: StreamState, reason: CloseReason, cfg: WindowConfig) -> list[ClosedWindow]:
    """Close every open window on quiet (idle stream, stream end); they are retained for reopening."""
    out = []
    for start in sorted(st.windows):
        cw = _close(st, st.windows[start], reason, cfg, retain=True)
        if cw:
            out.append(cw)
    return out


def seq_seen(st: StreamState, seq: int) -> bool:
    """True when ``seq`` is in the stream's applied ranges."""
    i = bisect.bisect_right(st.seqs, [seq, float("inf")]) - 1
    return i >= 0 and st.seqs[i][0] <= seq <= st.seqs[i][1]


def _remember_seq(st: StreamState, seq: int, cfg: WindowConfig) -> None:
    """Add ``seq`` to the applied ranges (merging neighbours); past ``max_seq_ranges`` the oldest are forgotten."""
    if seq_seen(st, seq) or seq <= st.seq_floor:
        return
    i = bisect.bisect_right(st.seqs, [seq, float("inf")])
    left = i > 0 and st.seqs[i - 1][1] == seq - 1
    right = i < len(st.seqs) and st.seqs[i][0] == seq + 1
    if left and right:
        st.seqs[i - 1][1] = st.seqs.pop(i)[1]
    elif left:
        st.seqs[i - 1][1] = seq
    elif right:
        st.seqs[i][0] = seq
    else:
        st.seqs.insert(i, [seq, seq])
    while len(st.seqs) > cfg.max_seq_ranges:
        st.seq_floor = max(st.seq_floor, st.seqs.pop(0)[1])


def _chunk_budget(st: StreamState, ts: int, cost: int, cfg: WindowConfig) -> str | None:
    """Why a chunk of ``cost`` stored bytes at ``ts`` would outgrow one of its windows; None when it fits."""
    for start, _ in _window_bounds(ts, st, cfg):
        w = st.windows.get(start) or st.retained.get(start)
        n, size = (len(w.chunks), w.text_bytes) if w else (0, 0)
        if n + 1 > cfg.max_window_chunks:
            return f"window budget: the window at {start} ms already holds {n} ASR chunks (limit {cfg.max_window_chunks})"
        if size + cost > cfg.max_window_text_bytes:
            return (f"window budget: {cost} more bytes of text would make the window at {start} ms hold "
                    f"{size + cost} bytes (limit {cfg.max_window_text_bytes})")
    return None


def _close_oldest_over(st: StreamState, cfg: WindowConfig) -> list[ClosedWindow]:
    """Close the oldest open windows early (reason budget) while more than ``max_open_windows`` are open."""
    out = []
    while len(st.windows) > cfg.max_open_windows:
        cw = _close(st, st.windows[min(st.windows)], "budget", cfg)
        if cw:
            out.append(cw)
    return out


def apply_chunk(st: StreamState, chunk: dict, cfg: WindowConfig, clock: float) -> Applied:
    """Add one ASR chunk {seq, start_ms, end_ms, text, lang}.

    A chunk whose ``seq`` was applied before is a duplicate (changes nothing). A chunk whose window
    closed, or that would outgrow its window's budget, is reported (``late`` / ``rejected``)."""
    res = Applied()
    seq, ts = chunk["seq"], chunk["start_ms"]
    if seq_seen(st, seq) or any(seq in w.chunks for w in (*st.windows.values(), *st.retained.values())):
        res.duplicate = True
        return res
    kept = {k: chunk[k] for k in ("seq", "start_ms", "end_ms", "text", "lang") if k in chunk}
    if why := _chunk_budget(st, ts, text_cost(kept["text"]), cfg):  # no windows before the first origin
        res.rejected = f"ASR chunk seq={seq} at {ts} ms refused: {why}"
        return res
    windows = _windows_for(st, ts, cfg, res)
    if windows is None:
        forgotten = " (or repeated: seq is older than the remembered history)" if seq <= st.seq_floor else ""
        res.late_kind = "asr"
        res.late = (f"late ASR chunk: seq={seq} at {ts} ms arrived after its window closed "
                    f"(closed until {st.closed_until_ms} ms){forgotten}")
        return res
    st.last_clock = clock
    if chunk.get("lang"):
        st.lang = chunk["lang"]
    for w in windows:
        w.add_chunk(kept)
    st.max_seq = max(st.max_seq, seq)
    _remember_seq(st, seq, cfg)
    res.closed = _advance(st, "asr", ts, cfg) + _close_oldest_over(st, cfg)
    return res


def frame_seen(st: StreamState, ts: int) -> bool:
    """True when the stream already sent a keyframe at ``ts`` (within the remembered history)."""
    i = bisect.bisect_left(st.frame_ts, ts)
    return i < len(st.frame_ts) and st.frame_ts[i] == ts


def _remember_frame(st: StreamState, ts: int, cfg: WindowConfig) -> None:
    """Add ``ts`` to the keyframe history; past ``max_frame_history`` the oldest are forgotten."""
    if ts <= st.frame_floor or frame_seen(st, ts):
        return
    bisect.insort(st.frame_ts, ts)
    while len(st.frame_ts) > cfg.max_frame_history:
        st.frame_floor = max(st.frame_floor, st.frame_ts.pop(0))


def apply_frame(st: StreamState, frame: FrameCandidate, cfg: WindowConfig, clock: float) -> Applied:
    """Add one scored keyframe; each window keeps a bounded pool of candidates. A keyframe at a time
    the stream already sent is a duplicate (a replay): it changes nothing and reopens no window."""
    res = Applied()
    if frame_seen(st, frame.ts_ms):
        res.duplicate = True
        return res
    windows = _windows_for(st, frame.ts_ms, cfg, res)
    if windows is None:
        forgotten = " (or repeated: older than the remembered keyframes)" if frame.ts_ms <= st.frame_floor else ""
        res.late = (f"late keyframe: ts={frame.ts_ms} ms arrived after its window closed "
                    f"(closed until {st.closed_until_ms} ms){forgotten}")
        res.late_kind = "keyframes"
        return res
    _remember_frame(st, frame.ts_ms, cfg)
    st.last_clock = clock
    for w in windows:
        if any(f.ts_ms == frame.ts_ms for f in w.frames):
            res.duplicate = True
            continue
        w.frames.append(frame)
        if len(w.frames) > 3 * cfg.max_keyframes:
            w.frames = select_keyframes(w.frames, 2 * cfg.max_keyframes)
    res.closed = _advance(st, "keyframes", frame.ts_ms, cfg) + _close_oldest_over(st, cfg)
    return res


def apply_marker(st: StreamState, ts: int, cfg: WindowConfig, clock: float) -> Applied:
    """A broadcaster marker without content (start) moves the events watermark."""
    st.last_clock = clock
    return Applied(closed=_advance(st, "events", ts, cfg))


def apply_product_switch(st: StreamState, ts: int, hint: str | None, cfg: WindowConfig, clock: float) -> Applied:
    """The broadcaster moved to another product at ``ts``: a new segment (and window grid) starts there.

    Content already collected is re-bucketed, since other topics may have run ahead of the marker;
    windows then close on the watermark as usual. A switch inside a window that already closed is
    late: it is reported, and the windows keep the old segment (ordering contract: send the marker
    before content past ``ts`` + grace, or make ``events`` an expected source of the domain).
    """
    if ts in st.origins:
        if ts not in st.hints and hint is not None:  # the stream's first segment opened before its marker
            st.hints[ts] = hint
            st.product_hint = hint if ts == st.origins[-1] else st.product_hint
        return Applied(duplicate=True)
    if ts < st.closed_until_ms:
        return Applied(
            late=f"late product switch: at {ts} ms (product {hint!r}) arrived after windows up to {st.closed_until_ms} ms closed",
            late_kind="product_switch",
        )
    _forget_segments(st)
    if len(st.origins) >= cfg.max_segments:
        return Applied(rejected=f"product switch at {ts} ms refused: the stream already has {len(st.origins)} "
                                f"open product segments (limit {cfg.max_segments})")
    st.last_clock = clock
    chunks = {c["seq"]: c for w in st.windows.values() for c in w.chunks.values()}
    frames = {f.ts_ms: f for w in st.windows.values() for f in w.frames}
    st.windows.clear()
    bisect.insort(st.origins, ts)
    st.product_hint = hint
    st.hints[ts] = hint
    for c in chunks.values():
        for w in _windows_for(st, c["start_ms"], cfg) or []:
            w.add_chunk(c)
    for f in frames.values():
        for w in _windows_for(st, f.ts_ms, cfg) or []:
            w.frames.append(f)
    st.watermarks["events"] = max(st.watermarks.get("events", ts), ts)
    return Applied(closed=_close_passed(st, cfg, "product_switch") + _close_oldest_over(st, cfg))


def _forget_segments(st: StreamState) -> None:
    """Drop the origins of segments that lie wholly before every window the stream still holds."""
    keep_from = min([*st.windows, *st.retained, max(st.closed_until_ms, st.origins[0])])
    i = max(0, bisect.bisect_right(st.origins, keep_from) - 1)
    for origin in st.origins[:i]:
        st.hints.pop(origin, None)
    del st.origins[:i]


def apply_lineup(st: StreamState, ts: int, product_ids: list[str], cfg: WindowConfig, clock: float) -> Applied:
    """The broadcaster declared the products the stream shows from ``ts`` on (``[]`` clears the lineup).

    A lineup closes nothing and opens no segment; a window takes every lineup in effect while it is
    open (:func:`window_lineup`). A lineup dated inside windows already closed applies to the windows
    still open. At most ``max_lineups`` are kept: the ones no held window can need go first, then the oldest.
    """
    st.last_clock = clock
    if any(t == ts and ids == product_ids for t, ids in st.lineups):
        return Applied(duplicate=True)
    held = min([*st.windows, *st.retained, max(st.closed_until_ms, 0)])
    times = [t for t, _ in st.lineups]
    del st.lineups[: max(0, bisect.bisect_right(times, held) - 1)]  # superseded before every held window
    st.lineups = [(t, ids) for t, ids in st.lineups if t != ts]
    bisect.insort(st.lineups, (ts, list(dict.fromkeys(product_ids))), key=lambda x: x[0])
    del st.lineups[: max(0, len(st.lineups) - cfg.max_lineups)]
    return Applied(closed=_advance(st, "events", ts, cfg))


def apply_end(st: StreamState, ts: int, cfg: WindowConfig, clock: float) -> Applied:
    """The broadcast ended at ``ts``: the open windows close once the stream has been quiet for
    ``end_settle_ms``, since the other topics may still deliver content from before ``ts``."""
    st.ended = True
    st.last_clock = clock
    return Applied(closed=_advance(st, "events", ts, cfg))


def shed(st: StreamState, cfg: WindowConfig) -> list[ClosedWindow]:
    """Close every window the stream holds (reason budget) and forget the retained ones: the last
    guard for a state whose record would still exceed the message limit."""
    out = [cw for start in sorted(st.windows) if (cw := _close(st, st.windows[start], "budget", cfg))]
    st.retained.clear()
    return out


def idle_expired(st: StreamState, clock: float, cfg: WindowConfig, read_until_ms: int | None = None) -> bool:
    """True when the stream has open windows, sent nothing for ``idle_close_ms`` of the caller's clock
    (``end_settle_ms`` once the broadcaster said the stream ended), and nothing unread can be its content.

    ``read_until_ms`` is the log time the caller has read to on a partition that still holds unread
    records (None: it has read everything). While records are queued, the stream is quiet only if
    what was read is newer than its last record by the quiet time: a lagging reader never mistakes its
    own backlog for a quiet stream."""
    quiet_ms = cfg.end_settle_ms if st.ended else cfg.idle_close_ms
    if not st.windows or (clock - st.last_clock) * 1000 < quiet_ms:
        return False
    return read_until_ms is None or read_until_ms - st.last_log_ms >= quiet_ms


def close_idle(st: StreamState, clock: float, cfg: WindowConfig, read_until_ms: int | None = None) -> list[ClosedWindow]:
    """Close the windows of a quiet stream (reason idle, or stream_end after an end marker)."""
    if not idle_expired(st, clock, cfg, read_until_ms):
        return []
    return close_all(st, "stream_end" if st.ended else "idle", cfg)
