"""Applying one raw input message (ASR chunk, keyframe, broadcaster event) to a stream's window state."""

from __future__ import annotations

from streams.image_source import load_image_bytes, uri_policy
from streams.keyframes import decode_image, make_candidate
from streams.schemas import (
    AsrChunkRecord,
    BadRecord,
    KeyframeRecord,
    StreamEventRecord,
    parse_record,
)
from streams.settings import Settings
from streams.topics import TopicNames
from streams.windowing import (
    Applied,
    StreamState,
    WindowConfig,
    apply_chunk,
    apply_end,
    apply_frame,
    apply_marker,
    apply_product_switch,
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
    )


def source_of(event_topic: str, topics: TopicNames) -> str:
    """The windowing source (asr, keyframes, events) an input topic feeds."""
    return {topics.asr: "asr", topics.keyframes: "keyframes"}.get(event_topic, "events")


def apply_message(
    event_topic: str,
    raw: bytes,
    st: StreamState | None,
    clock: float,
    settings: Settings,
    cfg: WindowConfig,
    topics: TopicNames,
    offset: int | None = None,
) -> tuple[StreamState | None, Applied, str]:
    """Parse one input message and apply it to its stream's state.

    ``clock`` is the caller's idle clock (seconds); ``offset`` the record's offset in its topic: a
    record at or below the offset the state applied last from that topic is a replay and changes
    nothing. Returns the new state (None: nothing to remember), what happened, and the stream id.
    Raises BadRecord for anything malformed.
    """
    source = source_of(event_topic, topics)
    if source == "asr":
        # a character may take 12 bytes as JSON (an escaped surrogate pair): the byte guard never
        # rejects text within the character limit, which is the one users see
        c = parse_record(raw, AsrChunkRecord, max_bytes=settings.max_text_chars * 12 + 4096)
        if len(c.text) > settings.max_text_chars:
            raise BadRecord(f"ASR text of {len(c.text)} chars exceeds the limit of {settings.max_text_chars}")
        if c.end_ms < c.start_ms:
            raise BadRecord("end_ms is before start_ms")
        st = st or new_state(c.stream_id, c.start_ms, cfg)
        if _replayed(st, source, offset):
            return st, Applied(duplicate=True), c.stream_id
        return st, _applied(st, source, offset, apply_chunk(st, c.model_dump(), cfg, clock)), c.stream_id
    if source == "keyframes":
        k = parse_record(raw, KeyframeRecord, max_bytes=settings.max_message_bytes)
        if st is not None and _replayed(st, source, offset):
            return st, Applied(duplicate=True), k.stream_id
        img = decode_image(load_image_bytes(k.image_b64, k.uri, uri_policy(settings)), settings.max_image_pixels)
        st = st or new_state(k.stream_id, k.ts_ms, cfg)
        return st, _applied(st, source, offset, apply_frame(st, make_candidate(k.ts_ms, img), cfg, clock)), k.stream_id
    e = parse_record(raw, StreamEventRecord)
    if e.type == "idle_check":
        raise BadRecord(INTERNAL_EVENT)
    if e.type == "start":
        st = st or new_state(e.stream_id, e.ts_ms, cfg)
        if _replayed(st, source, offset):
            return st, Applied(duplicate=True), e.stream_id
        st.domain = e.domain
        return st, _applied(st, source, offset, apply_marker(st, e.ts_ms, cfg, clock)), e.stream_id
    if st is None:
        raise BadRecord(f"unknown stream {e.stream_id!r}: '{e.type}' event before any content")
    if _replayed(st, source, offset):
        return st, Applied(duplicate=True), e.stream_id
    if e.type == "product_switch":
        return st, _applied(st, source, offset, apply_product_switch(st, e.ts_ms, e.product_hint, cfg, clock)), e.stream_id
    return st, _applied(st, source, offset, apply_end(st, e.ts_ms, cfg, clock)), e.stream_id


def _replayed(st: StreamState, source: str, offset: int | None) -> bool:
    return offset is not None and offset <= st.offsets.get(source, -1)


def _applied(st: StreamState, source: str, offset: int | None, res: Applied) -> Applied:
    """Remember the offset applied last from ``source`` (with the state, in the same changelog record)."""
    if offset is not None:
        st.offsets[source] = offset
    return res
