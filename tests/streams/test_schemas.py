"""Strict parsing of input records: every malformed message becomes one BadRecord with a reason."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.schemas import (
    MAX_TS_MS,
    AsrChunkRecord,
    BadRecord,
    KeyframeRecord,
    ProductRecordMsg,
    StreamEventRecord,
    parse_record,
)

GOOD = {"stream_id": "s", "seq": 1, "start_ms": 0, "end_ms": 5, "text": "hello"}


def _raw(**over) -> bytes:
    return json.dumps({**GOOD, **over}).encode()


@pytest.mark.parametrize(
    "raw, fragment",
    [
        (b'{"stream_id":"s","seq":1,"start_ms":0,"end_ms":5,"text":"\\ud83d"}', "not valid JSON"),  # lone surrogate
        (b'{"stream_id":"s","seq":1,"start_ms":0,"end_ms":5,"text":"\\udc00x"}', "not valid JSON"),
        (_raw(seq=True), "seq"),
        (_raw(v="1"), "v:"),
        (_raw(start_ms=2**63), "start_ms"),
        (_raw(start_ms=MAX_TS_MS + 1), "start_ms"),
        (b'{"stream_id":"s","seq":1,"start_ms":1e300,"end_ms":5,"text":"x"}', "start_ms"),
        (b'{"stream_id":"s","seq":1,"start_ms":NaN,"end_ms":5,"text":"x"}', "not valid JSON"),
        (_raw(start_ms=1.5), "start_ms"),
        (_raw(text=7), "text"),
        (_raw(stream_id=""), "stream_id"),
        (b"[" * 100_000, "not valid JSON"),  # nesting bomb
        (b"\xff\xfe\x00", "not valid JSON"),  # not UTF-8
        (b"[1, 2]", "expected a JSON object"),
        (b"null", "expected a JSON object"),
    ],
)
def test_malformed_asr_chunks_are_rejected_with_a_reason(raw: bytes, fragment: str) -> None:
    with pytest.raises(BadRecord) as err:
        parse_record(raw, AsrChunkRecord)
    assert fragment in err.value.reason
    assert len(err.value.reason) <= 1000


def test_valid_records_still_parse() -> None:
    assert parse_record(_raw(text="\\u00e9" * 3 + "😀"), AsrChunkRecord).seq == 1
    assert parse_record(b'{"stream_id":"s","seq":1,"start_ms":0,"end_ms":5,"text":"\\ud83d\\ude00"}', AsrChunkRecord).text == "😀"
    assert parse_record(b'{"stream_id":"s","ts_ms":3,"type":"start","domain":"video"}', StreamEventRecord).domain == "video"
    assert parse_record(b'{"stream_id":"s","ts_ms":3,"image_b64":"AA=="}', KeyframeRecord).ts_ms == 3


def test_product_lists_are_bounded() -> None:
    many = json.dumps({"product_id": "p", "title": "t", "images_b64": ["AA=="] * 17}).encode()
    with pytest.raises(BadRecord, match="images_b64"):
        parse_record(many, ProductRecordMsg)


@settings(max_examples=300, deadline=None)
@given(st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
))
def test_any_json_is_either_a_record_or_a_bad_record(value) -> None:
    """Whatever a producer sends, parsing ends in a record or a BadRecord, never another exception."""
    candidates = [value, {**GOOD, "text": value}, {**GOOD, "seq": value}, {"stream_id": "s", "ts_ms": value, "type": "end"}]
    for cand in candidates:
        raw = json.dumps(cand).encode("utf-8", "surrogatepass")
        for model in (AsrChunkRecord, StreamEventRecord, KeyframeRecord, ProductRecordMsg):
            try:
                parse_record(raw, model)
            except BadRecord:
                pass


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_are_either_a_record_or_a_bad_record(raw: bytes) -> None:
    for model in (AsrChunkRecord, StreamEventRecord, KeyframeRecord, ProductRecordMsg):
        try:
            parse_record(raw, model)
        except BadRecord:
            pass
