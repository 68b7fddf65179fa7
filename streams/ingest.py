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
    apply_product_switch,
    close_all,
    idle_expired,
    new_state,
)


def window_config(settings: Settings) -> WindowConfig:
    """Window geometry from the settings."""
    return WindowConfig(
        window_ms=settings.window_ms,
        hop_ms=settings.hop_ms,
        grace_ms=settings.grace_ms,
        idle_close_ms=settings.idle_close_ms,
        end_settle_ms=settings.end_settle_ms,
        max_keyframes=settings.max_keyframes,
    )


def apply_message(
    event_topic: str, raw: bytes, st: StreamState | None, now: float, settings: Settings, cfg: WindowConfig, topics: TopicNames
) -> tuple[StreamState | None, Applied, str]:
    """Parse one input message and apply it to its stream's state.

    Returns the new state (None: nothing to remember), what happened, and the stream id.
    Raises BadRecord for anything malformed.
    """
    if event_topic == topics.asr:
        # a character may take 12 bytes as JSON (an escaped surrogate pair): the byte guard never
        # rejects text within the character limit, which is the one users see
        c = parse_record(raw, AsrChunkRecord, max_bytes=settings.max_text_chars * 12 + 4096)
        if len(c.text) > settings.max_text_chars:
            raise BadRecord(f"ASR text of {len(c.text)} chars exceeds the limit of {settings.max_text_chars}")
        if c.end_ms < c.start_ms:
            raise BadRecord("end_ms is before start_ms")
        st = st or new_state(c.stream_id, c.start_ms, cfg)
        return st, apply_chunk(st, c.model_dump(), cfg, now), c.stream_id
    if event_topic == topics.keyframes:
        k = parse_record(raw, KeyframeRecord, max_bytes=settings.max_message_bytes)
        img = decode_image(load_image_bytes(k.image_b64, k.uri, uri_policy(settings)), settings.max_image_pixels)
        st = st or new_state(k.stream_id, k.ts_ms, cfg)
        return st, apply_frame(st, make_candidate(k.ts_ms, img), cfg, now), k.stream_id
    e = parse_record(raw, StreamEventRecord)
    if e.type == "start":
        st = st or new_state(e.stream_id, e.ts_ms, cfg)
        st.domain = e.domain
        return st, Applied(), e.stream_id
    if st is None:
        if e.type == "idle_check":
            return None, Applied(duplicate=True), e.stream_id
        raise BadRecord(f"unknown stream {e.stream_id!r}: '{e.type}' event before any content")
    if e.type == "product_switch":
        return st, apply_product_switch(st, e.ts_ms, e.product_hint, cfg, now), e.stream_id
    if e.type == "idle_check":
        reason = "stream_end" if st.ended else "idle"
        closed = close_all(st, reason, cfg) if idle_expired(st, now, cfg) else []
        return st, Applied(closed=closed), e.stream_id
    return st, apply_end(st, e.ts_ms, cfg, now), e.stream_id
