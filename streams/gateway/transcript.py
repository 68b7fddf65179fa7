"""Sidecar transcripts (SubRip .srt, WebVTT .vtt) read as ASR chunks."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_TIME = r"(?:(\d+):)?(\d{1,2}):(\d{2})[,.](\d{1,3})"
_CUE = re.compile(rf"^\s*{_TIME}\s*-->\s*{_TIME}")
_TAG = re.compile(r"<[^>]+>")


class TranscriptError(ValueError):
    """A transcript file that cannot be read; the message names the line."""


@dataclass(frozen=True)
class Cue:
    """One subtitle cue: milliseconds since the start of the video, and its text."""

    start_ms: int
    end_ms: int
    text: str


def _ms(h: str | None, m: str, s: str, frac: str) -> int:
    return ((int(h or 0) * 60 + int(m)) * 60 + int(s)) * 1000 + int(frac.ljust(3, "0"))


def parse_transcript(text: str) -> list[Cue]:
    """Cues of an SRT or WebVTT document in time order (markup tags removed, empty cues dropped)."""
    cues: list[Cue] = []
    lines = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff").split("\n")
    i = 0
    while i < len(lines):
        m = _CUE.match(lines[i])
        if not m:
            if "-->" in lines[i]:
                raise TranscriptError(f"line {i + 1}: bad cue timing {lines[i].strip()!r}")
            i += 1
            continue
        start, end = _ms(*m.groups()[:4]), _ms(*m.groups()[4:])
        if end < start:
            raise TranscriptError(f"line {i + 1}: cue ends before it starts")
        i += 1
        body = []
        while i < len(lines) and lines[i].strip():
            body.append(_TAG.sub("", lines[i]).strip())
            i += 1
        words = " ".join(b for b in body if b)
        if words:
            cues.append(Cue(start, end, words))
    return sorted(cues, key=lambda c: (c.start_ms, c.end_ms))


def read_transcript(path: Path) -> list[Cue]:
    """Read a .srt or .vtt file."""
    if path.suffix.lower() not in (".srt", ".vtt"):
        raise TranscriptError(f"{path.name}: expected a .srt or .vtt file")
    return parse_transcript(path.read_text(encoding="utf-8-sig"))
