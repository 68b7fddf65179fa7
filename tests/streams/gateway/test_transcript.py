from __future__ import annotations

from pathlib import Path

import pytest

from streams.gateway.transcript import Cue, TranscriptError, parse_transcript, read_transcript

SRT = """1
00:00:01,000 --> 00:00:03,500
look at this <i>red</i> mug

2
00:00:04,250 --> 00:01:02,007
it is ceramic
and very nice

3
00:01:03,000 --> 00:01:04,000

"""

VTT = """WEBVTT

NOTE a comment --- not a cue

intro
00:01.000 --> 00:03.500 align:start position:10%
<v Host>look at this red mug</v>

01:00:00.100 --> 01:00:01.000
an hour in
"""


def test_srt_cues_with_hours_commas_multiline_and_empty_cue_dropped() -> None:
    assert parse_transcript(SRT) == [
        Cue(1000, 3500, "look at this red mug"),
        Cue(4250, 62007, "it is ceramic and very nice"),
    ]


def test_vtt_cues_without_hours_with_settings_voices_and_notes() -> None:
    assert parse_transcript(VTT) == [Cue(1000, 3500, "look at this red mug"), Cue(3600100, 3601000, "an hour in")]


def test_bad_timing_names_the_line() -> None:
    with pytest.raises(TranscriptError, match="line 2"):
        parse_transcript("1\n00:00:0x,000 --> 00:00:01,000\nhi\n")
    with pytest.raises(TranscriptError, match="ends before"):
        parse_transcript("00:00:05,000 --> 00:00:01,000\nhi\n")


def test_only_srt_or_vtt_files(tmp_path: Path) -> None:
    p = tmp_path / "a.txt"
    p.write_text(SRT)
    with pytest.raises(TranscriptError):
        read_transcript(p)
    q = tmp_path / "a.srt"
    q.write_text("\ufeff" + SRT.replace("\n", "\r\n"))
    assert len(read_transcript(q)) == 2
