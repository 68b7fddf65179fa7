"""A replay's product segments as chapters: JSON, WebVTT or SRT, the boundaries a platform cuts clips at.

Times are relative to ``origin_ms`` (by default the start of the replay's first segment), since a replay
file starts at zero. A segment that is not claimed becomes a chapter too (the product is not named):
the timeline has no holes, and nothing unclaimed is shown to a shopper as a product.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

FORMATS = ("json", "vtt", "srt")
UNCLAIMED_TITLE = "(product not identified)"


@dataclass(frozen=True)
class Chapter:
    start_ms: int
    end_ms: int
    title: str
    product_id: str | None
    segment_id: str
    revision: int


def chapters(segments: Sequence[Mapping], origin_ms: int | None = None) -> list[Chapter]:
    """One chapter per segment, in time order, relative to ``origin_ms`` (default: the first start); a
    segment overlapping the previous one starts where that one ends (windows overlap by their hop)."""
    ordered = sorted(segments, key=lambda s: (float(s["start_ms"]), float(s["end_ms"])))
    if not ordered:
        return []
    origin = int(ordered[0]["start_ms"]) if origin_ms is None else origin_ms
    out: list[Chapter] = []
    for s in ordered:
        start, end = int(s["start_ms"]) - origin, int(s["end_ms"]) - origin
        if out and start < out[-1].end_ms:
            start = out[-1].end_ms
        if end <= start:
            continue
        claimed = bool(s.get("claimed")) and s.get("product_id")
        title = (s.get("title") or s["product_id"]) if claimed else UNCLAIMED_TITLE
        out.append(Chapter(max(0, start), end, str(title), str(s["product_id"]) if claimed else None,
                           str(s.get("segment_id") or s.get("_id") or ""), int(s.get("revision") or 1)))
    return out


def _clock(ms: int, sep: str) -> str:
    h, rest = divmod(max(0, ms), 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def _one_line(text: str) -> str:
    """A cue's text on one line, without the sequence that would end a cue ("-->") or a blank line."""
    return " ".join(text.replace("-->", "->").split())


def render(chs: Sequence[Chapter], fmt: str) -> str:
    """Chapters as ``json``, ``vtt`` (WebVTT chapters) or ``srt``."""
    if fmt == "json":
        return json.dumps([asdict(c) for c in chs], indent=2, ensure_ascii=False) + "\n"
    if fmt == "vtt":
        cues = [f"{c.segment_id}\n{_clock(c.start_ms, '.')} --> {_clock(c.end_ms, '.')}\n{_one_line(c.title)}" for c in chs]
        return "WEBVTT\n\n" + "".join(f"{cue}\n\n" for cue in cues)
    if fmt == "srt":
        return "".join(f"{i}\n{_clock(c.start_ms, ',')} --> {_clock(c.end_ms, ',')}\n{_one_line(c.title)}\n\n"
                       for i, c in enumerate(chs, 1))
    raise ValueError(f"unknown chapter format {fmt!r} (one of {', '.join(FORMATS)})")
