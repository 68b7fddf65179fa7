"""Chapters from segments: ordered, no overlap, unclaimed segments unnamed, cue text that cannot break out."""

from __future__ import annotations

import json

import pytest

from tooling.chapters import UNCLAIMED_TITLE, chapters, render


def seg(i: int, start: int, end: int, claimed: bool, title: str = "Drive") -> dict:
    return {"segment_id": f"s{i}", "start_ms": start, "end_ms": end, "claimed": claimed,
            "product_id": f"p{i}", "title": title, "revision": 2}


SEGMENTS = [seg(2, 70_000, 125_500, False), seg(1, 10_000, 75_000, True), seg(3, 125_500, 3_725_000, True, "Kettle")]


def test_chapters_are_relative_ordered_and_do_not_overlap() -> None:
    chs = chapters(SEGMENTS)
    assert [(c.start_ms, c.end_ms) for c in chs] == [(0, 65_000), (65_000, 115_500), (115_500, 3_715_000)]
    assert [c.title for c in chs] == ["Drive", UNCLAIMED_TITLE, "Kettle"]
    assert chs[1].product_id is None  # an unclaimed segment never names its best guess


def test_webvtt_and_srt_clock_format() -> None:
    vtt = render(chapters(SEGMENTS), "vtt")
    assert vtt.startswith("WEBVTT\n\n") and "00:00:00.000 --> 00:01:05.000\nDrive" in vtt
    assert "00:01:55.500 --> 01:01:55.000\nKettle" in vtt
    srt = render(chapters(SEGMENTS), "srt")
    assert srt.startswith("1\n00:00:00,000 --> 00:01:05,000\nDrive\n\n2\n")


def test_a_hostile_title_cannot_add_cues() -> None:
    evil = [seg(1, 0, 5000, True, "A\n\n00:00:00.000 --> 99:00:00.000\nFAKE")]
    vtt = render(chapters(evil), "vtt")
    assert vtt.count("-->") == 1 and "FAKE" in vtt.splitlines()[4]


def test_json_round_trips_and_unknown_formats_are_refused() -> None:
    assert [c["segment_id"] for c in json.loads(render(chapters(SEGMENTS), "json"))] == ["s1", "s2", "s3"]
    assert chapters([]) == []
    with pytest.raises(ValueError, match="unknown chapter format"):
        render([], "ass")
