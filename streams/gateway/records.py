"""Turn what a broadcaster sends into validated topic messages (pure: no network, no framework).

Every function returns an :class:`Outbound` or raises :class:`ClientError` with the HTTP status and a
readable reason. Records are validated with the same models and limits as the worker, so what the
gateway accepts the worker can window.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any

from pydantic_core import from_json

from streams.kafka.topics import TopicNames
from streams.keyframes import decode_image
from streams.schemas import (
    AsrChunkRecord,
    BadRecord,
    KeyframeRecord,
    StreamEventRecord,
    dump_record,
    parse_record,
)
from streams.settings import Settings

PUBLIC_EVENT_TYPES = ("start", "end", "product_switch", "lineup")
IMAGE_TYPES = {b"\xff\xd8\xff": "image/jpeg", b"\x89PNG\r\n\x1a\n": "image/png"}
KINDS = ("event", "asr", "keyframe")
#: An integer form field: ASCII digits only (``str.isdigit`` also takes "²" and other digits ``int`` refuses),
#: at most 19 of them (the int64 range, far past any timestamp).
FORM_INT = re.compile(r"-?[0-9]{1,19}")


class ClientError(Exception):
    """A request the gateway refuses: ``status`` is the HTTP status, ``reason`` says why."""

    def __init__(self, status: int, reason: str, retry_after_s: float | None = None) -> None:
        super().__init__(reason)
        self.status, self.reason, self.retry_after_s = status, reason, retry_after_s


@dataclass(frozen=True)
class Outbound:
    """A validated message ready for the broker."""

    topic: str
    key: bytes
    value: bytes


def parse_json(raw: bytes | str, what: str = "body") -> Any:
    """Decode JSON as the worker does (pydantic-core): no NaN or Infinity, nesting and number sizes bounded.

    ClientError 400 for anything that parser refuses (deep nesting, a 5,000-digit number, invalid UTF-8).
    """
    try:
        return from_json(raw, allow_inf_nan=False, cache_strings=False)
    except ValueError as exc:
        raise ClientError(400, f"{what} is not valid JSON: {str(exc)[:200]}") from None


def form_int(value: object, name: str) -> int:
    """An integer multipart form field; ClientError 422 unless it is ASCII digits with an optional minus."""
    if not isinstance(value, str) or not FORM_INT.fullmatch(value.strip()):
        raise ClientError(422, f"{name}: integer form field required (ASCII digits, at most 19)")
    return int(value.strip())


def _with_stream(payload: Any, stream_id: str) -> dict:
    if not isinstance(payload, dict):
        raise ClientError(422, f"expected a JSON object, got {type(payload).__name__}")
    given = payload.get("stream_id", stream_id)
    if given != stream_id:
        raise ClientError(400, f"stream_id {given!r} in the body differs from {stream_id!r} in the path")
    return {**payload, "stream_id": stream_id}


def _parse(data: dict, model: type, max_bytes: int | None = None):
    try:
        return parse_record(json.dumps(data), model, max_bytes=max_bytes)
    except BadRecord as exc:
        raise ClientError(413 if "exceeds the limit" in exc.reason else 422, exc.reason) from exc


def event(payload: Any, stream_id: str, topics: TopicNames) -> Outbound:
    """A start / end / product_switch marker, or a lineup (``product_ids``)."""
    data = _with_stream(payload, stream_id)
    if data.get("type") not in PUBLIC_EVENT_TYPES:
        raise ClientError(422, f"type: must be one of {', '.join(PUBLIC_EVENT_TYPES)}, got {data.get('type')!r}")
    rec = _parse(data, StreamEventRecord)
    return Outbound(topics.events, stream_id.encode(), dump_record(rec))


def asr_chunk(payload: Any, stream_id: str, topics: TopicNames, settings: Settings) -> Outbound:
    """One recognized speech chunk."""
    rec = _parse(_with_stream(payload, stream_id), AsrChunkRecord)
    if len(rec.text) > settings.max_text_chars:
        raise ClientError(413, f"text of {len(rec.text)} chars exceeds the limit of {settings.max_text_chars}")
    if rec.end_ms < rec.start_ms:
        raise ClientError(422, "end_ms is before start_ms")
    return Outbound(topics.asr, stream_id.encode(), dump_record(rec))


def check_image(data: bytes, settings: Settings) -> str:
    """Media type of a JPEG or PNG the worker can decode; ClientError 413 (bytes, pixels) or 415 otherwise.

    Decodes with the worker's function and pixel limit, every pixel (a truncated file fails here, not in
    the worker), so it takes CPU and width x height x 3 bytes: call it off the event loop.
    """
    if len(data) > settings.max_image_bytes:
        raise ClientError(413, f"image of {len(data)} bytes exceeds the limit of {settings.max_image_bytes}")
    media = next((t for magic, t in IMAGE_TYPES.items() if data.startswith(magic)), None)
    if media is None:
        raise ClientError(415, "keyframe must be a JPEG or PNG image")
    try:
        decode_image(data, settings.max_image_pixels)
    except BadRecord as exc:
        if exc.reason.startswith("undecodable"):
            raise ClientError(415, f"{media}: {exc.reason}") from None
        limit = f"exceeds the limit of {settings.max_image_pixels} pixels"
        raise ClientError(413, f"{media}: {exc.reason if limit in exc.reason else f'image {limit} ({exc.reason})'}") from None
    return media


def keyframe(payload: Any, stream_id: str, topics: TopicNames, settings: Settings, image: bytes | None = None) -> Outbound:
    """A keyframe: ``image`` bytes (multipart upload) or ``image_b64`` in the payload; no URIs from outside.

    Decodes the image (:func:`check_image`): call it off the event loop.
    """
    data = _with_stream(payload, stream_id)
    if data.get("uri"):
        raise ClientError(422, "uri: not accepted by the gateway; send the image itself (multipart or image_b64)")
    if image is None:
        b64 = data.get("image_b64")
        if not isinstance(b64, str) or not b64:
            raise ClientError(422, "image_b64: required (or upload the image as multipart field 'image')")
        if len(b64) * 3 // 4 > settings.max_image_bytes + 3:
            raise ClientError(413, f"image exceeds the limit of {settings.max_image_bytes} bytes")
        try:
            image = base64.b64decode(b64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ClientError(422, f"image_b64: not valid base64: {exc}") from exc
    check_image(image, settings)
    rec = _parse({**data, "image_b64": base64.b64encode(image).decode()}, KeyframeRecord)
    return Outbound(topics.keyframes, stream_id.encode(), dump_record(rec))


def message(kind: str, payload: Any, stream_id: str, topics: TopicNames, settings: Settings) -> Outbound:
    """Dispatch by kind (``event`` | ``asr`` | ``keyframe``), as WebSocket messages name it."""
    if kind == "event":
        return event(payload, stream_id, topics)
    if kind == "asr":
        return asr_chunk(payload, stream_id, topics, settings)
    if kind == "keyframe":
        return keyframe(payload, stream_id, topics, settings)
    raise ClientError(422, f"kind: must be one of {', '.join(KINDS)}, got {kind!r}")
