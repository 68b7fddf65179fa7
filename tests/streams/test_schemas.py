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
    key_matches,
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


@pytest.mark.parametrize(
    "bad, fragment",
    [
        ("a\x00b", "U+0000 at index 1"),
        ("live\n1", "U+000A at index 4"),
        ("x\r", "U+000D"),
        ("\tx", "U+0009"),
        ("x\x7f", "U+007F"),
        ("x\x85", "U+0085"),  # C1 next line
        ("x\u200by", "U+200B"),  # zero-width space
        ("x\u202ey", "U+202E"),  # right-to-left override
        ("x\u2028y", "U+2028"),  # line separator
        ("x\u00a0y", "U+00A0"),  # no-break space
        (" live-1", "leading or trailing whitespace"),
        ("live-1 ", "leading or trailing whitespace"),
        (" ", "leading or trailing whitespace"),
        (".", "may not be '.'"),
        ("..", "may not be '..'"),
        ("x" * 201, "at most 200"),
    ],
)
def test_ids_must_be_printable_and_not_dot_names(bad: str, fragment: str) -> None:
    for raw, model, field in (
        (_raw(stream_id=bad), AsrChunkRecord, "stream_id"),
        (json.dumps({"stream_id": bad, "ts_ms": 1, "type": "start"}).encode(), StreamEventRecord, "stream_id"),
        (json.dumps({"stream_id": bad, "ts_ms": 1, "image_b64": "AA=="}).encode(), KeyframeRecord, "stream_id"),
        (json.dumps({"product_id": bad, "title": "t"}).encode(), ProductRecordMsg, "product_id"),
    ):
        with pytest.raises(BadRecord) as err:
            parse_record(raw, model)
        assert f"{field}: " in err.value.reason and fragment in err.value.reason, err.value.reason


@pytest.mark.parametrize(
    "good",
    ["s", "live-001", "shop-42", "live-000#run-0-0", "video-clip_7", "tenant:live/42", "a b", "...x", "x..",
     "caf\u00e9-\u76f4\u64ad", "stream-\U0001f600", "B07XJ8C8F5", "mug--red", "x" * 200],
)
def test_legitimate_ids_still_parse(good: str) -> None:
    assert parse_record(_raw(stream_id=good), AsrChunkRecord).stream_id == good
    assert parse_record(json.dumps({"product_id": good, "title": "t"}).encode(), ProductRecordMsg).product_id == good


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30))
def test_an_accepted_id_has_no_control_character_and_is_not_a_dot_name(candidate: str) -> None:
    try:
        rec = parse_record(json.dumps({**GOOD, "stream_id": candidate}).encode("utf-8", "surrogatepass"), AsrChunkRecord)
    except BadRecord as err:
        assert "stream_id" in err.reason
        return
    sid = rec.stream_id
    assert sid and sid == sid.strip() and sid not in (".", "..")
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in sid)


@pytest.mark.parametrize(
    "key, stream_id, expected",
    [
        (b"live-1", "live-1", True),
        ("caf\u00e9".encode(), "caf\u00e9", True),
        (b"x\xff", "x\ufffd", False),  # not UTF-8: a lossy decode would have matched
        (b"x\xff", "x\xff", False),
        (b"\xed\xa0\x80", "\ud800", False),  # an encoded surrogate is not UTF-8
        (None, "live-1", False),
        (b"", "live-1", False),
        (b"live-1 ", "live-1", False),
        (b"Live-1", "live-1", False),
    ],
)
def test_key_matches_is_a_strict_utf8_exact_comparison(key: bytes | None, stream_id: str, expected: bool) -> None:
    assert key_matches(key, stream_id) is expected


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=20))
def test_key_matches_only_the_keys_own_utf8_text(key: bytes) -> None:
    lossy = key.decode("utf-8", "replace")
    try:
        exact = key.decode("utf-8")
    except UnicodeDecodeError:
        assert not key_matches(key, lossy)
    else:
        assert key_matches(key, exact) and exact.encode("utf-8") == key
