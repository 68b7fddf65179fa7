"""Versioned JSON record schemas of every topic, and strict parsing of raw bytes into them.

Input records are parsed from raw bytes with :func:`parse_record`; anything malformed raises
:class:`BadRecord` with a reason that goes to the dead-letter topic beside the original bytes.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import from_json

from streams.errors import AmpereError, PermanentError

SCHEMA_VERSION = 1

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")

#: Largest timestamp accepted, in milliseconds since the Unix epoch (9999-12-31T23:59:59.999Z).
MAX_TS_MS = 253_402_300_799_999
TimestampMs = Annotated[int, Field(ge=0, le=MAX_TS_MS, description="Milliseconds since the Unix epoch (UTC).")]
#: Unicode categories an id may not hold: controls (C0 with NUL and newline, DEL, C1), format characters
#: (bidi overrides, zero-width), surrogates, line / paragraph separators and spaces other than U+0020.
_ID_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp", "Zs"})


def check_id(value: str) -> str:
    """Return ``value`` when it is a valid stream or product id; raise ValueError naming the problem.

    An id is printable text: no control, format or separator character (the ASCII space is allowed
    inside), no leading or trailing space, and not ``.`` or ``..``.
    """
    for i, ch in enumerate(value):
        if ch != " " and unicodedata.category(ch) in _ID_FORBIDDEN_CATEGORIES:
            raise ValueError(f"id holds a non-printable character U+{ord(ch):04X} at index {i}")
    if value != value.strip():
        raise ValueError("id has leading or trailing whitespace")
    if value in (".", ".."):
        raise ValueError(f"id may not be {value!r}")
    return value


#: Bytes one character may take in JSON text: a character outside the BMP, ASCII-escaped as a surrogate
#: pair (``"\\ud83d\\ude00"``).
JSON_BYTES_PER_CHAR = 12
#: Room for the fields around the text of a record.
JSON_ENVELOPE_BYTES = 4096
#: Largest broadcaster event record (start / end / product_switch are a few hundred bytes).
EVENT_MAX_BYTES = 64 * 1024
MAX_LINEUP = 200  # products in one stream's lineup (a live room's product list holds 5-50)


def asr_max_bytes(max_text_chars: int) -> int:
    """Largest ASR chunk record: text within the character limit always fits, however it is escaped
    (the worker and the gateway bound ASR records by this one rule)."""
    return max_text_chars * JSON_BYTES_PER_CHAR + JSON_ENVELOPE_BYTES


StreamId = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(check_id)]


def key_matches(key: bytes | None, stream_id: str) -> bool:
    """Whether a Kafka message key is exactly ``stream_id`` in UTF-8 (a missing or non-UTF-8 key never is)."""
    if key is None:
        return False
    try:
        return key.decode("utf-8", errors="strict") == stream_id
    except UnicodeDecodeError:
        return False


class BadRecord(AmpereError, ValueError):
    """A message that cannot be processed; ``reason`` says why (goes to the DLQ beside the original
    bytes). The subclass decides the dead letter's class (``kind``, a bounded metric label): the reason
    text is free to change without reclassifying anything."""

    kind: ClassVar[str] = "invalid"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class EmptyMessage(BadRecord):
    kind = "empty"


class NotJson(BadRecord):
    kind = "invalid_json"


class SchemaMismatch(BadRecord):
    kind = "schema"


class TooLarge(BadRecord):
    kind = "too_large"


class UriNotAllowed(BadRecord):
    kind = "uri_not_allowed"


class BadImage(BadRecord):
    kind = "bad_image"


class UnknownStream(BadRecord):
    kind = "unknown_stream"


class InternalEventType(BadRecord):
    kind = "internal_event"


class KeyMismatch(BadRecord):
    kind = "key_mismatch"


class LateInput(BadRecord):
    kind = "late"


class UnknownLineupProducts(BadRecord):
    """A stream's lineup names product ids the catalog does not hold (reported once per lineup; the
    known ones are still searched)."""

    kind = "unknown_product"


class OverBudget(BadRecord):
    kind = "over_budget"


class NothingToIndex(BadRecord):
    kind = "nothing_to_index"


class EncodeFailed(BadRecord):
    kind = "encode_failed"


def dlq_reason(exc: BaseException) -> tuple[str, str]:
    """(reason, class) of a dead letter for ``exc``: a bad record's own, ``store_refused`` for a
    store's bounded refusals, ``unexpected`` for anything else (a bug, logged with its type)."""
    if isinstance(exc, BadRecord):
        return exc.reason, exc.kind
    if isinstance(exc, PermanentError):
        return exc.reason, "store_refused"
    return f"unexpected {type(exc).__name__}: {str(exc)[:500]}", "unexpected"


def _check_utf8(value: Any, path: str = "") -> None:
    """Raise ValueError when a string anywhere in ``value`` cannot be encoded as UTF-8 (lone surrogates)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError(f"{path or '<root>'}: text is not valid Unicode (lone surrogate at {exc.start})") from None
    elif isinstance(value, dict):
        for k, v in value.items():
            _check_utf8(k, path)
            _check_utf8(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _check_utf8(v, f"{path}.{i}" if path else str(i))


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    v: int = Field(SCHEMA_VERSION, description="Schema version of the record.")

    @field_validator("v")
    @classmethod
    def _known_version(cls, v: int) -> int:
        if v != SCHEMA_VERSION:
            raise ValueError(f"unsupported schema version {v} (this worker reads {SCHEMA_VERSION})")
        return v

    @model_validator(mode="before")
    @classmethod
    def _valid_unicode(cls, data: Any) -> Any:
        _check_utf8(data)
        return data


class _InputRecord(_Record):
    """A record written by clients outside the worker: strict JSON types (no ``true`` for an int,
    no ``"1"`` for a number), bounded timestamps."""

    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)


class AsrChunkRecord(_InputRecord):
    """`ampere.asr.chunks`: one recognized speech chunk of a live stream."""

    stream_id: StreamId
    seq: int = Field(ge=0, le=2**53)
    start_ms: TimestampMs
    end_ms: TimestampMs
    text: str
    lang: str = Field("en", max_length=35, description="BCP 47 language tag of the speech.")


class KeyframeRecord(_InputRecord):
    """`ampere.keyframes`: one frame; inline base64 image bytes or a URI (allow-listed, off by default)."""

    stream_id: StreamId
    ts_ms: TimestampMs
    image_b64: str | None = None
    uri: str | None = Field(None, max_length=2048)
    width: int | None = Field(None, ge=0, le=1_000_000)
    height: int | None = Field(None, ge=0, le=1_000_000)


class StreamEventRecord(_InputRecord):
    """`ampere.stream.events`: broadcaster markers."""

    stream_id: StreamId
    ts_ms: TimestampMs
    type: Literal["start", "end", "product_switch", "idle_check", "lineup"]
    product_hint: str | None = Field(None, max_length=500)
    domain: Literal["live", "video"] = Field("live", description="On `start`: a live stream or a short video.")
    seller_id: StreamId | None = Field(
        None, description="On `start`: the seller (tenant) whose catalog the stream is matched against; only that "
        "seller's products are ever returned for it. Fixed once set."
    )
    product_ids: list[StreamId] | None = Field(
        None, max_length=MAX_LINEUP,
        description="On `lineup`: the catalog products the stream shows from `ts_ms` on (the room's product list; "
        "replaces the previous lineup, [] clears it). The tag stage searches them first.",
    )

    @model_validator(mode="after")
    def _lineup_only_on_lineup(self) -> StreamEventRecord:
        if (self.type == "lineup") != (self.product_ids is not None):
            raise ValueError("product_ids is required on a 'lineup' event and only there")
        if self.seller_id is not None and self.type != "start":
            raise ValueError("seller_id belongs on the 'start' event only")
        return self


class ProductRecordMsg(_InputRecord):
    """`ampere.products`: one catalog product (images inline base64 or allow-listed URIs)."""

    product_id: StreamId
    seller_id: StreamId | None = Field(
        None, description="The seller (tenant) that sells it: a stream of that seller is matched only against its "
        "products. None: a shared catalog product, matched by streams without a seller."
    )
    title: str = Field(min_length=1, max_length=1000)
    description: str = Field("", max_length=20_000)
    category: str = Field("", max_length=500)
    brand: str = Field("", max_length=500)
    attributes: dict[str, str] = Field(default_factory=dict, max_length=100)
    images_b64: list[str] = Field(default_factory=list, max_length=16)
    image_uris: list[Annotated[str, Field(max_length=2048)]] = Field(default_factory=list, max_length=16)


#: Every reason the window state machine closes a window for (``streams.worker.windowing``): the one list.
CloseReason = Literal["watermark", "idle", "stream_end", "product_switch", "budget"]


class WindowRecord(_Record):
    """Internal `ampere.windows`: a closed window of one stream."""

    window_id: str
    stream_id: str
    start_ms: int
    end_ms: int
    text: str
    lang: str
    keyframes_b64: list[str]
    close_reason: CloseReason
    domain: Literal["live", "video"] = "live"
    closed_at: float = Field(description="Wall-clock UNIX time the window closed.")
    product_hint: str | None = None
    lineup: list[str] | None = Field(
        None, description="The stream's lineup while the window was open (every product declared in it); None: none declared."
    )
    segment_start_ms: int | None = Field(
        None, description="Start of the window's product segment (a product switch or a lineup change opens one; "
        "None: the stream's first)."
    )
    seller_id: str | None = Field(None, description="The seller (tenant) the stream belongs to; None: no seller.")


class SummaryRecordMsg(_Record):
    """Internal `ampere.summaries`: a closed window with its summary."""

    window: WindowRecord
    summary: dict[str, Any]
    summarized_at: float
    revision: int = Field(1, ge=1, description="1 = provisional (cheap summary at close), 2 = refined (LLM).")


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
    revision: int = Field(
        1, ge=1, description="Version of this object: 1 = provisional at window close, 2 = refined by the LLM "
        "summary; the same object_id with a higher revision replaces the lower one."
    )
    summary_source: str | None = Field(None, description="Engine that produced the summary (moments only).")
    branches: dict[str, list[float]] = Field(
        default_factory=dict, description="Branch vectors present (visual, text): what the search rule needs."
    )
    spoken_terms: list[str] = Field(
        default_factory=list,
        description="Distinct terms of the window's speech (moments; encoders.attributes: number words as digits, "
        "number+unit joined, size words): the search rule re-ranks products by the attribute values said.",
    )
    lineup: list[str] | None = Field(None, description="Live moments: the stream's lineup during the window (see WindowRecord).")
    segment_start_ms: int | None = Field(
        None, description="Start of the window's product segment (a product switch or a lineup change opens one; "
        "None: the stream's first)."
    )
    seller_id: str | None = Field(None, description="The seller (tenant) the stream belongs to; None: no seller.")
    product_hint: str | None = Field(None, description="Live moments: the broadcaster's hint for the window's segment.")


class TagRecord(_Record):
    """`ampere.tags`: catalog products seen in a live window."""

    object_id: str
    stream_id: str
    window: tuple[int, int]
    products: list[dict[str, Any]] = Field(description="[{product_id, title, score}] best first.")
    claimed: bool = Field(description="True when the calibrated claim rule (streams/worker/claims.py) is sure of the first product.")
    unclaimed_reason: str | None = Field(None, description="Why the first product is not claimed (None when claimed).")
    scope: Literal["lineup", "seller", "catalog"] = Field(
        "catalog", description="Where `products` come from: the stream's lineup (searched first when it has one), "
        "its seller's catalog (a stream with a seller), or the whole catalog (neither).",
    )
    lineup_unknown: list[str] = Field(
        default_factory=list, description="Lineup product ids the catalog does not hold (reported, never matched)."
    )
    tagged_at: float
    revision: int = Field(1, ge=1, description="Revision of the moment these tags were computed from.")
    segment_start_ms: int | None = Field(
        None, description="Start of the window's product segment (a product switch or a lineup change opens one; "
        "None: the stream's first)."
    )
    seller_id: str | None = Field(None, description="The seller (tenant) the stream belongs to; None: no seller.")
    product_hint: str | None = Field(None, description="The broadcaster's hint for the segment (evidence, never the claim).")
    modality: str | None = Field(None, description="Branches the window had: visual+text, visual, text or none.")


class SegmentRecord(_Record):
    """`ampere.segments`: consecutive windows of one product on one stream, claimed from all their evidence.

    The same ``segment_id`` is published again, with the next ``revision``, whenever a window of the
    segment arrives or is refined; the highest revision replaces the others (streams/worker/segments.py)."""

    segment_id: str
    stream_id: str
    seller_id: str | None = None
    segment_start_ms: int | None = Field(None, description="Where the segment opened (None: the stream's first).")
    start_ms: int = Field(description="Start of the segment's first window.")
    end_ms: int = Field(description="End of its last window so far.")
    product_id: str | None = Field(description="The product its windows score best on average.")
    title: str = ""
    score: float = Field(description="That product's mean score over the windows it was judged on.")
    claimed: bool
    reason: str | None = Field(None, description="Why it is not claimed (None when claimed).")
    basis: Literal["window", "evidence", "none"] = Field(
        description="window: a window claim carries it; evidence: the mean scores clear the rule; none: not claimed."
    )
    windows: int = Field(ge=0, description="Windows of evidence.")
    product_hint: str | None = None
    revision: int = Field(ge=1)
    closed_at: float = Field(description="Wall-clock time its newest window was tagged (what expiry reads).")
    updated_at: float


class DeadLetter(_Record):
    """`ampere.dlq`: a message that could not be processed, with its origin and the reason.

    The original value is kept up to a cap (``value_truncated`` says when it was cut); its size and
    SHA-256 always describe the whole original value, so a producer can find the message it sent.
    """

    topic: str
    partition: int | None
    offset: int | None
    key_b64: str | None
    value_b64: str
    reason: str
    failed_at: float
    value_size: int = Field(0, description="Bytes of the original value.")
    value_sha256: str = Field("", description="SHA-256 (hex) of the whole original value.")
    value_truncated: bool = Field(False, description="True when value_b64 holds only the first bytes.")


R = TypeVar("R", bound=_Record)


def parse_record(raw: bytes | str | None, model: type[R], *, max_bytes: int | None = None) -> R:
    """Parse raw message bytes into ``model``; raise :class:`BadRecord` with a readable reason."""
    if raw is None:
        raise EmptyMessage("empty message (null value)")
    if not raw:
        raise EmptyMessage("empty message (no bytes)")
    if max_bytes is not None and len(raw) > max_bytes:
        raise TooLarge(f"message of {len(raw)} bytes exceeds the limit of {max_bytes}")
    try:
        data = from_json(raw, allow_inf_nan=False, cache_strings=False)
    except ValueError as exc:  # invalid UTF-8, invalid JSON, NaN/Infinity, nesting too deep
        raise NotJson(f"not valid JSON: {str(exc)[:200]}") from None
    if not isinstance(data, dict):
        raise NotJson(f"expected a JSON object, got {type(data).__name__}")
    try:
        return model.model_validate(data, strict=None)
    except ValidationError as exc:
        errs = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or '<root>'}: {e['msg']}" for e in exc.errors(include_url=False)[:5]
        )
        raise SchemaMismatch(f"does not match {model.__name__} v{SCHEMA_VERSION}: {errs}"[:1000]) from None


def dump_record(record: _Record) -> bytes:
    """Serialize a record to compact UTF-8 JSON bytes; never raises on text that is not valid Unicode
    (a lone surrogate, e.g. in state written by an older version, becomes U+FFFD)."""
    try:
        return record.model_dump_json().encode("utf-8")
    except ValueError:  # pydantic-core refuses to serialize a lone surrogate
        text = json.dumps(record.model_dump(mode="python"), ensure_ascii=False, separators=(",", ":"), default=str)
        return _LONE_SURROGATE.sub("\ufffd", text).encode("utf-8")
