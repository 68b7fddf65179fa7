"""Versioned JSON record schemas of every topic, and strict parsing of raw bytes into them.

Input records are parsed from raw bytes with :func:`parse_record`; anything malformed raises
:class:`BadRecord` with a reason that goes to the dead-letter topic beside the original bytes.
"""

from __future__ import annotations

import json
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

SCHEMA_VERSION = 1


class BadRecord(ValueError):
    """A message that cannot be processed; ``reason`` says why (goes to the DLQ)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    v: int = Field(SCHEMA_VERSION, description="Schema version of the record.")

    @field_validator("v")
    @classmethod
    def _known_version(cls, v: int) -> int:
        if v != SCHEMA_VERSION:
            raise ValueError(f"unsupported schema version {v} (this worker reads {SCHEMA_VERSION})")
        return v


class AsrChunkRecord(_Record):
    """`ampere.asr.chunks`: one recognized speech chunk of a live stream."""

    stream_id: str = Field(min_length=1, max_length=200)
    seq: int = Field(ge=0)
    start_ms: int = Field(ge=0)
    end_ms: int = Field(ge=0)
    text: str
    lang: str = "en"


class KeyframeRecord(_Record):
    """`ampere.keyframes`: one frame; inline base64 image bytes or a URI (file path, http(s))."""

    stream_id: str = Field(min_length=1, max_length=200)
    ts_ms: int = Field(ge=0)
    image_b64: str | None = None
    uri: str | None = None
    width: int | None = None
    height: int | None = None


class StreamEventRecord(_Record):
    """`ampere.stream.events`: broadcaster markers."""

    stream_id: str = Field(min_length=1, max_length=200)
    ts_ms: int = Field(ge=0)
    type: Literal["start", "end", "product_switch", "idle_check"]
    product_hint: str | None = None
    domain: Literal["live", "video"] = Field("live", description="On `start`: a live stream or a short video.")


class ProductRecordMsg(_Record):
    """`ampere.products`: one catalog product (images inline base64 or URIs)."""

    product_id: str = Field(min_length=1, max_length=200)
    title: str = Field(min_length=1)
    description: str = ""
    category: str = ""
    brand: str = ""
    attributes: dict[str, str] = Field(default_factory=dict)
    images_b64: list[str] = Field(default_factory=list)
    image_uris: list[str] = Field(default_factory=list)


class WindowRecord(_Record):
    """Internal `ampere.windows`: a closed window of one stream."""

    window_id: str
    stream_id: str
    start_ms: int
    end_ms: int
    text: str
    lang: str
    keyframes_b64: list[str]
    close_reason: Literal["watermark", "idle", "stream_end", "product_switch"]
    domain: Literal["live", "video"] = "live"
    closed_at: float = Field(description="Wall-clock UNIX time the window closed.")
    product_hint: str | None = None


class SummaryRecordMsg(_Record):
    """Internal `ampere.summaries`: a closed window with its summary."""

    window: WindowRecord
    summary: dict[str, Any]
    summarized_at: float


class EmbeddingRecord(_Record):
    """`ampere.embeddings`: a new object in the store, queryable when this is published."""

    object_id: str
    kind: Literal["live", "video", "product"]
    stream_id: str | None = None
    product_id: str | None = None
    window: tuple[int, int] | None = None
    model_version: str
    vector: list[float]
    summary: dict[str, Any] | None = None
    closed_at: float | None = None
    indexed_at: float
    timings: dict[str, float] = Field(default_factory=dict, description="Seconds spent per stage.")
    branches: dict[str, list[float]] = Field(
        default_factory=dict, description="Branch vectors present (visual, text): what the search rule needs."
    )


class TagRecord(_Record):
    """`ampere.tags`: catalog products seen in a live window."""

    object_id: str
    stream_id: str
    window: tuple[int, int]
    products: list[dict[str, Any]] = Field(description="[{product_id, title, score}] best first.")
    claimed: bool = Field(description="False when no product scored above the threshold.")
    tagged_at: float


class DeadLetter(_Record):
    """`ampere.dlq`: a message that could not be processed, with its origin and the reason."""

    topic: str
    partition: int | None
    offset: int | None
    key_b64: str | None
    value_b64: str
    reason: str
    failed_at: float


R = TypeVar("R", bound=_Record)


def parse_record(raw: bytes | str | None, model: type[R], *, max_bytes: int | None = None) -> R:
    """Parse raw message bytes into ``model``; raise :class:`BadRecord` with a readable reason."""
    if raw is None:
        raise BadRecord("empty message (null value)")
    if max_bytes is not None and len(raw) > max_bytes:
        raise BadRecord(f"message of {len(raw)} bytes exceeds the limit of {max_bytes}")
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRecord(f"not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise BadRecord(f"expected a JSON object, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errs = "; ".join(f"{'.'.join(map(str, e['loc'])) or '<root>'}: {e['msg']}" for e in exc.errors())
        raise BadRecord(f"does not match {model.__name__} v{SCHEMA_VERSION}: {errs}") from exc


def dump_record(record: _Record) -> bytes:
    """Serialize a record to compact UTF-8 JSON bytes."""
    return record.model_dump_json().encode("utf-8")
