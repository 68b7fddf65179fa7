"""Applying one raw input message (ASR chunk, keyframe, broadcaster event) to a stream's window state."""

from __future__ import annotations

from collections.abc import Mapping

from streams.kafka.topics import TopicNames
from streams.keyframes import THUMB_SIDE, decode_image, make_candidate
from streams.schemas import (
    EVENT_MAX_BYTES,
    AsrChunkRecord,
    BadRecord,
    InternalEventType,
    KeyframeRecord,
    KeyMismatch,
    SchemaMismatch,
    StreamEventRecord,
    TooLarge,
    UnknownStream,
    asr_max_bytes,
    key_matches,
    parse_record,
)
from streams.settings import Settings
from streams.worker.image_source import load_image_bytes, uri_policy
from streams.worker.windowing import (
    Applied,
    StreamState,
    WindowConfig,
    apply_chunk,
    apply_end,
    apply_frame,
    apply_lineup,
    apply_marker,
    apply_product_switch,
    frame_seen,
    new_state,
)

INTERNAL_EVENT = "'idle_check' is an internal event type: producers may not send it (idle streams are closed by the worker itself)"


def _sources(settings: Settings, domain: str) -> tuple[str, ...]:
    raw = settings.window_sources_video if domain == "video" else settings.window_sources_live
    return tuple(s.strip() for s in raw.split(",") if s.strip())


def window_config(settings: Settings) -> WindowConfig:
    """Window geometry from the settings."""
    return WindowConfig(
        window_ms=settings.window_ms,
        hop_ms=settings.hop_ms,
        grace_ms=settings.grace_ms,
        idle_close_ms=settings.idle_close_ms,
        end_settle_ms=settings.end_settle_ms,
        max_keyframes=settings.max_keyframes,
        sources_live=_sources(settings, "live"),
        sources_video=_sources(settings, "video"),
        retain_closed=settings.window_retain_closed,
        max_window_chunks=settings.window_max_chunks,
        max_window_text_bytes=settings.window_max_text_bytes,
        max_open_windows=settings.window_max_open,
    )


def source_of(event_topic: str, topics: TopicNames) -> str:
    """The windowing source (asr, keyframes, events) an input topic feeds."""
    return {topics.asr: "asr", topics.keyframes: "keyframes"}.get(event_topic, "events")


InputRecord = AsrChunkRecord | KeyframeRecord | StreamEventRecord


def parse_input(event_topic: str, raw: bytes, settings: Settings, topics: TopicNames) -> InputRecord:
    """Parse one raw input message of ``event_topic`` (no state touched). Raises BadRecord."""
    source = source_of(event_topic, topics)
    if source == "asr":
        c = parse_record(raw, AsrChunkRecord, max_bytes=asr_max_bytes(settings.max_text_chars))
        if len(c.text) > settings.max_text_chars:
            raise TooLarge(f"ASR text of {len(c.text)} chars exceeds the limit of {settings.max_text_chars}")
        if c.end_ms < c.start_ms:
            raise SchemaMismatch("end_ms is before start_ms")
        return c
    if source == "keyframes":
        return parse_record(raw, KeyframeRecord, max_bytes=settings.max_message_bytes)
    e = parse_record(raw, StreamEventRecord, max_bytes=EVENT_MAX_BYTES)
    if e.type == "idle_check":
        raise InternalEventType(INTERNAL_EVENT)
    return e


def check_key(key: bytes | None, stream_id: str) -> None:
    """Raise BadRecord unless the message key is exactly ``stream_id`` in UTF-8 (checked before any
    state is looked up, so a record keyed by another stream can never change that stream)."""
    if not key_matches(key, stream_id):
        raise KeyMismatch(f"message key {key[:200] if key else key!r} differs from stream_id {stream_id[:200]!r}")


def apply_message(
    event_topic: str,
    raw: bytes,
    st: StreamState | None,
    clock: float,
    settings: Settings,
    cfg: WindowConfig,
    topics: TopicNames,
    offset: int | None = None,
    images: Mapping[str, bytes | BadRecord] | None = None,
) -> tuple[StreamState | None, Applied, str]:
    """Parse one input message and apply it to its stream's state.

    ``clock`` is the caller's idle clock (seconds); ``offset`` the record's offset in its topic: a
    record at or below the offset the state applied last from that topic is a replay and changes
    nothing. ``images`` holds image URIs fetched ahead of time. Returns the new state (None: nothing
    to remember), what happened, and the stream id. Raises BadRecord for anything malformed.
    """
    return apply_record(parse_input(event_topic, raw, settings, topics), st, clock, settings, cfg, offset, images)


def apply_record(
    rec: InputRecord,
    st: StreamState | None,
    clock: float,
    settings: Settings,
    cfg: WindowConfig,
    offset: int | None = None,
    images: Mapping[str, bytes | BadRecord] | None = None,
    hold_closes: bool = False,
) -> tuple[StreamState | None, Applied, str]:
    """Apply a parsed input record to its stream's state (see :func:`apply_message`); with
    ``hold_closes`` no window closes on the watermark (the caller has broadcaster events to read first)."""
    if st is not None:  # a new stream's first record closes nothing: its window ends after it
        st.hold_closes = hold_closes
    if isinstance(rec, AsrChunkRecord):
        st = st or new_state(rec.stream_id, rec.start_ms, cfg)
        if _replayed(st, "asr", offset):
            return st, Applied(duplicate=True), rec.stream_id
        return st, _applied(st, "asr", offset, apply_chunk(st, rec.model_dump(), cfg, clock)), rec.stream_id
    if isinstance(rec, KeyframeRecord):
        if keyframe_replayed(rec, st, offset):
            return st, Applied(duplicate=True), rec.stream_id  # nothing fetched or decoded for a replay
        data = load_image_bytes(rec.image_b64, rec.uri, uri_policy(settings), prefetched=images)
        img = decode_image(data, settings.max_image_pixels, shrink_to=THUMB_SIDE)  # a large frame is never decoded in full
        st = st or new_state(rec.stream_id, rec.ts_ms, cfg)
        return st, _applied(st, "keyframes", offset, apply_frame(st, make_candidate(rec.ts_ms, img), cfg, clock)), rec.stream_id
    e = rec
    if e.type in ("start", "lineup") and st is None:  # a lineup may be declared before the show starts
        st = new_state(e.stream_id, e.ts_ms, cfg)
    if e.type == "start":
        if _replayed(st, "events", offset):
            return st, Applied(duplicate=True), e.stream_id
        if e.seller_id is not None and st.seller_id not in (None, e.seller_id):
            return st, _applied(st, "events", offset, Applied(
                rejected=f"start event names seller {e.seller_id!r}; stream {e.stream_id!r} belongs to {st.seller_id!r}")), e.stream_id
        st.domain = e.domain
        st.seller_id = e.seller_id or st.seller_id
        return st, _applied(st, "events", offset, apply_marker(st, e.ts_ms, cfg, clock)), e.stream_id
    if st is None:
        raise UnknownStream(f"unknown stream {e.stream_id!r}: '{e.type}' event before any content")
    if _replayed(st, "events", offset):
        return st, Applied(duplicate=True), e.stream_id
    if e.type == "product_switch":
        return st, _applied(st, "events", offset, apply_product_switch(st, e.ts_ms, e.product_hint, cfg, clock)), e.stream_id
    if e.type == "lineup":
        return st, _applied(st, "events", offset, apply_lineup(st, e.ts_ms, e.product_ids or [], cfg, clock)), e.stream_id
    return st, _applied(st, "events", offset, apply_end(st, e.ts_ms, cfg, clock)), e.stream_id


def keyframe_replayed(rec: KeyframeRecord, st: StreamState | None, offset: int | None) -> bool:
    """True when the stream already applied this keyframe (its offset, or a keyframe at its time)."""
    return st is not None and (_replayed(st, "keyframes", offset) or frame_seen(st, rec.ts_ms))


def _replayed(st: StreamState, source: str, offset: int | None) -> bool:
    return offset is not None and offset <= st.offsets.get(source, -1)


def _applied(st: StreamState, source: str, offset: int | None, res: Applied) -> Applied:
    """Remember the offset applied last from ``source`` (with the state, in the same changelog record)."""
    if offset is not None:
        st.offsets[source] = offset
    return res
